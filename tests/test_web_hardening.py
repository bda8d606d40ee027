"""The web layer under attack: a vanishing index, a forged Host header, caches, waitress's own errors."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from indexer import build
from tests.conftest import ROOT, SEEDS
from web import SECURITY_HEADERS, create_app

A = "{http://www.w3.org/2005/Atom}"
CLI = [sys.executable, "-m", "web.cli"]
UNAVAILABLE = "The search index is missing or being rebuilt; please try again in a minute."
REUTERS = (
    "https://www.reuters.com/article/us-microsoft-facial-recognition/"
    "microsoft-declines-to-sell-facial-recognition-tech-to-police-idUSKBN23I2T6"
)


# -- a real server process -----------------------------------------------------------------------


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET over a fresh connection: status, lower-cased headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes: status, lower-cased headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture()
def served(tmp_path) -> Iterator[tuple[int, Path]]:
    """``search-cli serve`` (the real CLI, waitress, default limits) over its own index, on a free port."""
    index = tmp_path / "index"
    build.full_build(SEEDS, index)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [*CLI, "--index", str(index), "serve", "--port", str(port), "--no-analytics", "--workers", "1"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "SEARCH_BASE_URL": "https://news.example.org"},
        stdout=log,
        stderr=log,
    )
    try:
        assert wait_for(lambda: _accepts(port), 30), (tmp_path / "server.log").read_text()
        yield port, index
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_deleting_the_index_under_a_server_is_a_503_until_a_rebuild_is_served(served, tmp_path):
    port, index = served
    status, _, body = fetch(port, "/healthz")
    assert status == 200 and json.loads(body)["documents"] == 53
    assert fetch(port, "/api/search?q=police")[0] == 200  # now in the engine's answer cache
    shutil.rmtree(index)
    assert wait_for(lambda: fetch(port, "/healthz")[0] == 503, 5), "healthz kept answering 200"
    status, headers, body = fetch(port, "/healthz")
    assert json.loads(body) == {
        "status": "unavailable",
        "error": "index generation gen-000001 is gone from disk; waiting for a rebuilt index ('search-cli index')",
    }
    assert headers["cache-control"] == "no-store"
    status, headers, body = fetch(port, "/api/search?q=microsoft+nuance")  # never asked: not in any cache
    assert (status, json.loads(body)) == (503, {"error": UNAVAILABLE, "status": 503})
    assert headers["cache-control"] == "no-store" and headers["retry-after"] == "10" and "etag" not in headers
    assert fetch(port, "/?q=police")[0] == 503
    assert fetch(port, "/api/search?q=police")[0] == 503  # a cached answer too: one story for every client
    status, _, body = fetch(port, "/feed.atom?q=police")
    assert (status, body) == (503, UNAVAILABLE.encode() + b"\n")
    # rebuilt from fewer files under the same generation name: the new content must be what is served
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    for seed in sorted(SEEDS.iterdir())[:2]:
        shutil.copy(seed, fewer / seed.name)
    documents = build.full_build(fewer, index).documents
    assert documents < 53
    assert wait_for(lambda: fetch(port, "/healthz")[0] == 200, 5), "healthz never recovered"
    assert json.loads(fetch(port, "/healthz")[2])["documents"] == documents
    status, _, body = fetch(port, "/api/search?q=microsoft+nuance")
    assert status == 200 and json.loads(body)["total"] <= documents


def test_waitress_own_error_replies_carry_the_security_headers(served):
    port, _ = served
    expected = {name.lower(): value for name, value in SECURITY_HEADERS.items()} | {"cache-control": "no-store"}
    prefix = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    oversized = prefix + b"a" * (262_144 - len(prefix))  # waitress's default max_request_header_size
    status, headers, body = raw_exchange(port, oversized)
    assert status == 431 and b"generated by news-search" in body  # waitress answered, not the app
    assert {k: headers.get(k) for k in expected} == expected
    status, headers, body = raw_exchange(port, b"NOT A REQUEST LINE\r\n\r\n")
    assert status == 400 and b"generated by news-search" in body
    assert {k: headers.get(k) for k in expected} == expected
    status, headers, _ = raw_exchange(port, b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 404 and {k: headers.get(k) for k in expected} == expected


def test_the_served_feed_links_come_from_the_base_url_setting_not_the_host_header(served):
    port, _ = served
    status, headers, body = fetch(port, "/feed.atom?q=police", {"Host": "evil.example"})
    assert status == 200 and b"evil.example" not in body and "evil.example" not in json.dumps(headers)
    root = ET.fromstring(body)
    assert root.find(f"{A}link[@rel='self']").get("href") == "https://news.example.org/feed.atom?q=police"


# -- the app over a real on-disk index -----------------------------------------------------------


@pytest.fixture(scope="module")
def app(seeds_index):
    return create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def test_a_search_in_the_moment_the_index_vanishes_answers_from_the_open_generation_never_500(tmp_path):
    """The open generation keeps its files open: until the next check it still answers, and health tells."""
    index = tmp_path / "index"
    build.full_build(SEEDS, index)
    app = create_app({"INDEX_DIR": str(index), "ACCESS_LOG": False, "ANALYTICS": False, "REFRESH_SECONDS": 60})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # healthy, and not checked again for a minute
    before = client.get("/api/search?q=police").get_json()["total"]
    shutil.rmtree(index)
    response = client.get("/api/search?q=microsoft+nuance")
    assert response.status_code == 200 and response.get_json()["total"] > 0
    assert client.get("/api/search?q=police&limit=3").get_json()["total"] == before
    assert client.get("/?q=amazon").status_code == 200
    assert "gone from disk" in app.extensions["search_engine"].health()  # the next probe says so


def test_feed_and_pages_never_build_urls_from_the_host_header(client):
    evil = {"Host": "evil.example"}
    feed = client.get("/feed.atom?q=police", headers=evil)
    assert feed.status_code == 200 and b"evil.example" not in feed.data
    root = ET.fromstring(feed.data)
    assert root.find(f"{A}id").text == "tag:news-search.invalid,2026:search?q=police"
    assert root.find(f"{A}link[@rel='self']").get("href") == "/feed.atom?q=police"
    assert root.find(f"{A}link[@rel='alternate']").get("href") == "/?q=police"
    for url in ("/?q=police", "/results?q=police", "/similar?url=" + REUTERS, "/api/search?q=police", "/nope"):
        response = client.get(url, headers=evil)
        assert "evil.example" not in response.get_data(as_text=True) + str(response.headers), url
    redirect = client.get("/api//search?q=police", headers=evil)  # werkzeug would merge slashes via Host
    assert redirect.status_code == 404 and "Location" not in redirect.headers


def test_feed_links_start_with_the_configured_base_url(seeds_index, monkeypatch):
    monkeypatch.setenv("SEARCH_BASE_URL", "https://news.example.org/")
    app = create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False})
    body = app.test_client().get("/feed.atom?q=police", headers={"Host": "evil.example"}).data
    root = ET.fromstring(body)
    assert root.find(f"{A}link[@rel='self']").get("href") == "https://news.example.org/feed.atom?q=police"
    assert root.find(f"{A}link[@rel='alternate']").get("href") == "https://news.example.org/?q=police"
    assert b"evil.example" not in body
    for bad in ("news.example.org", "javascript:alert(1)", "https://x.example/?a=1", "https://x.example/a b"):
        with pytest.raises(ValueError, match="SEARCH_BASE_URL"):
            create_app({"INDEX_DIR": str(seeds_index), "BASE_URL": bad})


SEARCH_ANSWERS = [
    ("/?q=police", "private, max-age=30"),
    ("/results?q=police", "private, max-age=30"),
    ("/api/search?q=police", "private, max-age=30"),
    ("/feed.atom?q=police", "public, max-age=30"),
    ("/api/suggest?q=poli", "public, max-age=30"),
    ("/api/similar?url=" + REUTERS, "public, max-age=30"),
    ("/similar?url=" + REUTERS, "public, max-age=30"),
]


@pytest.mark.parametrize(("url", "policy"), SEARCH_ANSWERS)
def test_search_answers_are_briefly_cacheable_and_revalidate_to_304_without_recomputing(
    app, client, monkeypatch, url, policy
):
    first = client.get(url)
    assert first.status_code == 200 and first.headers["Cache-Control"] == policy
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')

    def recomputed(*args, **kwargs):
        raise AssertionError("a conditional GET recomputed the answer")

    engine = app.extensions["search_engine"]
    for name in ("search", "similar", "suggest_titles"):
        monkeypatch.setattr(engine, name, recomputed)
    again = client.get(url, headers={"If-None-Match": etag})
    assert (again.status_code, again.data) == (304, b"")
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == policy
    other = client.get(url + "x", headers={"If-None-Match": etag})  # another query string: another answer
    assert other.status_code != 304


def test_the_etag_follows_the_index_generation(tmp_path):
    index = tmp_path / "index"
    build.full_build(SEEDS, index)
    app = create_app({"INDEX_DIR": str(index), "ACCESS_LOG": False, "ANALYTICS": False, "REFRESH_SECONDS": 0})
    client = app.test_client()
    etag = client.get("/api/search?q=police").headers["ETag"]
    assert client.get("/api/search?q=police", headers={"If-None-Match": etag}).status_code == 304
    build.full_build(SEEDS, index)  # same items, new generation
    assert wait_for(lambda: app.extensions["search_engine"].generation().name == "gen-000002", 5)
    fresh = client.get("/api/search?q=police", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag


def test_a_revalidated_search_still_counts_in_the_analytics(app, client, monkeypatch):
    counted = []

    class Recorder:
        def search(self, q, filters, total, source):
            counted.append((q, total, source))

    etag = client.get("/?q=police").headers["ETag"]
    monkeypatch.setitem(app.extensions, "analytics", Recorder())
    assert client.get("/?q=police", headers={"If-None-Match": etag}).status_code == 304
    assert counted == [("police", 32, "page")]
    assert "X-Search-Intent" in client.get("/?q=police").headers["Vary"]


@pytest.mark.parametrize(
    ("method", "url", "status", "policy"),
    [
        ("get", "/healthz", 200, "no-store"),
        ("get", "/api/openapi.json", 200, "public, max-age=300"),
        ("post", "/api/events", 204, "no-store"),
        ("get", "/api/search?q=x&limit=0", 400, "no-store"),
        ("get", "/?q=x&sort=bogus", 400, "no-store"),
        ("get", "/nope", 404, "no-store"),
        ("get", "/api/similar?url=https://nope.example/x", 404, "no-store"),
        ("post", "/api/search", 405, "no-store"),
        ("get", "/static/app.css", 200, "no-cache"),
        ("get", "/static/app.css?v=stale", 200, "no-cache"),
    ],
)
def test_cache_control_of_everything_else(client, method, url, status, policy):
    event = {"type": "search", "params": "q=police"}  # analytics: never replayed from a cache
    response = getattr(client, method)(url, json=event if method == "post" and "events" in url else None)
    assert (response.status_code, response.headers["Cache-Control"]) == (status, policy)
    if status >= 400:
        assert "ETag" not in response.headers


def test_versioned_static_files_are_cached_for_long(client):
    page = client.get("/").get_data(as_text=True)
    css = page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert css.startswith("/static/app.css?v=")
    response = client.get(css)
    assert (response.status_code, response.headers["Cache-Control"]) == (200, "public, max-age=31536000, immutable")


def test_security_headers_are_on_every_response_of_the_app(app, client, monkeypatch):
    responses = {
        "404": client.get("/nope"),
        "405": client.post("/api/search"),
        "413": client.post("/api/events", data="x" * 20_000, content_type="application/json"),
        "400": client.get("/api/search?q=x&limit=0"),
        "static": client.get("/static/app.js"),
        "304": client.get("/api/search?q=police", headers={"If-None-Match": "*"}),
    }

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["search_engine"], "search", boom)
    responses["500"] = client.get("/api/search?q=never+asked+before")
    assert {k: r.status_code for k, r in responses.items()} == {
        "404": 404, "405": 405, "413": 413, "400": 400, "static": 200, "304": 304, "500": 500,
    }  # fmt: skip
    for name, response in responses.items():
        assert {k: response.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS, name
    assert set(responses["405"].headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


# -- characters that hide or reorder text -------------------------------------------------------

HIDING = ["\x01", "\x1b", "\x7f", "\x9b", "\u202e", "\u2066"]


def test_control_characters_in_a_query_separate_words_and_never_reach_the_served_page(served):
    port, _ = served
    typed = "/?q=" + quote("facial\x01recognition\x1b\x7f\x9b")
    status, _, body = fetch(port, typed)
    page = body.decode("utf-8")
    assert status == 200
    assert not [c for c in HIDING if c in page], "a control character reached the page"
    plain = fetch(port, "/?q=facial+recognition")[2].decode("utf-8")
    assert _result_count(page) == _result_count(plain) > 0  # \x01 split the words as a space does


def test_a_bidi_override_in_a_query_cannot_reorder_the_page_around_it(served):
    port, _ = served
    status, _, body = fetch(port, "/?q=" + quote("\u202eerutcip facial"))
    page = body.decode("utf-8")
    assert status == 200
    assert "\u202e" not in page
    assert "for “<bdi>erutcip facial</bdi>”" in page  # the echoed query is isolated from the heading


def test_control_characters_in_a_filter_value_never_reach_the_page(client):
    response = client.get("/?q=police&filter=" + quote("provider:\x01Reuters\x1b"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not [c for c in HIDING if c in page]
    assert "<bdi>Reuters</bdi>" in page  # the chip names the cleaned value, isolated


def _result_count(page: str) -> int:
    match = re.search(r"<strong>([\d,]+)</strong> results? for", page)
    return int(match.group(1).replace(",", "")) if match else 0


def test_an_article_listing_thousands_of_related_items_shows_the_newest_hundred_and_counts_the_rest(tmp_path):
    # one seed file listing 71,825 related items made /similar take 1.5 s and send 9 MB (an adversarial pass)
    lines = ["---", 'title: "Harbour cranes"', 'webUrl: "https://many.example/a"', "related:"]
    for i in range(150):
        day = f"2020-{1 + i // 28:02d}-{1 + i % 28:02d}"
        lines += [
            f'  - title: "Crane item {i}"',
            f'    webUrl: "https://r.example/{i}"',
            f"    publishedDateTime: {day}",
        ]
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "many.md").write_text("\n".join([*lines, "---", ""]))
    build.full_build(tmp_path / "seeds", tmp_path / "index")
    client = create_app({"INDEX_DIR": str(tmp_path / "index"), "ACCESS_LOG": False}).test_client()
    answer = client.get("/api/similar?url=https://many.example/a").get_json()
    assert answer["related_total"] == 150 and len(answer["related"]) == 100
    assert [m["title"] for m in answer["related"][:2]] == ["Crane item 149", "Crane item 148"]  # newest first
    html = client.get("/similar?url=https://many.example/a").get_data(as_text=True)
    assert "Listed by the publisher under this article: the newest 100 of 150" in html
    assert html.count('<li><a href="https://r.example/') == 100


def test_an_item_whose_url_is_2048_characters_has_a_similar_page(tmp_path):
    # the similar routes cut ?url= at 2,000 characters while items may have 2,048: its "Similar" link was a 404
    url = "https://long.example/" + "a" * (2_048 - len("https://long.example/"))
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.md").write_text(f'---\ntitle: "Harbour cranes"\nwebUrl: "{url}"\n---\n')
    build.full_build(tmp_path / "seeds", tmp_path / "index")
    client = create_app({"INDEX_DIR": str(tmp_path / "index"), "ACCESS_LOG": False}).test_client()
    assert client.get("/api/similar", query_string={"url": url}).status_code == 200
    assert client.get("/similar", query_string={"url": url}).status_code == 200
