"""Attacks on the analytics: a poisoned event, event floods, junk bodies, and a file that only grows."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time

import pytest

import search.analytics as analytics
from search.analytics import FILE_NAME, Recorder
from search.engine import SearchEngine
from search.request import build_request
from tests.conftest import serve_config
from web import create_app
from web.events import RateLimiter, client_key

NOW = dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.timezone.utc)


class Clock:
    """A settable clock for the recorder: rows are counted under its hour."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def item_url(seeds_index) -> str:
    return SearchEngine(seeds_index).search(build_request("police"))["hits"][0]["url"]


def make_app(seeds_index, tmp_path, **config):
    settings = {"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS_PATH": str(tmp_path / FILE_NAME)}
    return create_app({**settings, **config})


def click(url: str, rank: int | None = 1, q: str = "police") -> dict:
    return {"type": "click", "params": f"q={q}", "url": url, "rank": rank}


def clicks_in(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT hour, query, url, rank FROM clicks ORDER BY rowid").fetchall()


# -- 1. one bad event must not stop the writer -----------------------------------------------


def test_an_event_sqlite_cannot_store_is_skipped_and_the_writer_keeps_recording(tmp_path, monkeypatch, caplog):
    # the values validation lets through are the writer's problem: pretend it let 2**70 through
    monkeypatch.setattr(analytics, "whole_number", lambda value, *args: value)
    recorder = Recorder(tmp_path / FILE_NAME)
    with caplog.at_level(logging.WARNING, logger="search.analytics"):
        recorder.click("police", "https://example.org/good-before", 1)
        for _ in range(50):
            recorder.click("police", "https://example.org/poisoned", 2**70)  # OverflowError in sqlite3
        recorder.click("police", "https://example.org/good-after", 2)
        recorder.flush()
    assert recorder.alive
    urls = [row[2] for row in clicks_in(recorder.path)]
    assert urls == ["https://example.org/good-before", "https://example.org/good-after"]
    assert recorder.skipped == 50
    overflow_logs = [r for r in caplog.records if "OverflowError" in r.getMessage()]
    assert len(overflow_logs) == 1  # once per kind of error, not once per event


def test_an_out_of_range_rank_over_http_is_400_and_later_clicks_still_count(seeds_index, tmp_path, item_url):
    app = make_app(seeds_index, tmp_path)
    client = app.test_client()
    bad = client.post("/api/events", json=click(item_url, rank=2**70))
    assert bad.status_code == 400
    assert "'rank' must be a whole number from 1 to 100,000" in bad.get_json()["error"]
    for rank in (0, -1, 2.5, True, "3"):
        assert client.post("/api/events", json=click(item_url, rank=rank)).status_code == 400, rank
    # a rank must be on the page of results the click came from
    off_page = client.post("/api/events", json=click(item_url, rank=11))
    assert off_page.status_code == 400 and "not on that page of results (1 to 10)" in off_page.get_json()["error"]
    deep = {**click(item_url, rank=2_950), "params": "q=police&page=30&limit=100"}
    assert client.post("/api/events", json=deep).status_code == 204
    assert client.post("/api/events", json=click(item_url, rank=None)).status_code == 204
    recorder = app.extensions["analytics"]
    recorder.flush()
    assert recorder.alive
    assert [row[3] for row in clicks_in(recorder.path)] == [2_950, None]


# -- 2. validation ---------------------------------------------------------------------------


def test_a_click_on_a_url_not_in_the_index_is_refused(seeds_index, tmp_path, item_url):
    app = make_app(seeds_index, tmp_path)
    client = app.test_client()
    for url in ("https://example.org/not-indexed", "http://[::1", "http://host:99999/x", item_url + "-fake"):
        answer = client.post("/api/events", json=click(url))
        assert answer.status_code == 400, url
        assert "'url' is not an item in the index" in answer.get_json()["error"]
    # the same item under another spelling of its URL (scheme, www., trailing slash) is the item
    variant = item_url.replace("https://www.", "http://") + "/"
    assert client.post("/api/events", json=click(variant)).status_code == 204
    app.extensions["analytics"].flush()
    assert [row[2] for row in clicks_in(tmp_path / FILE_NAME)] == [variant]


def test_junk_events_get_a_400_that_says_what_is_wrong(seeds_index, tmp_path, item_url):
    client = make_app(seeds_index, tmp_path).test_client()
    cases = {
        json.dumps({**click(item_url), "admin": True}): 'unknown field "admin"',
        json.dumps({"type": "search", "params": "q=x", "url": item_url}): 'unknown field "url"',
        '{"type": "delete"}': "'type' must be 'search' or 'click'",
        '{"type": "search", "params": 5}': "'params' must be the page's URL query",
        '{"type": "search", "params": "%s"}' % ("q" * 5_000): "at most 4,000 characters",
        '{"type": "click", "params": "q=x"}': "'url' must be the address of the opened result",
        '{"type": "click", "params": "q=x", "url": ""}': "'url' must be the address of the opened result",
        "[" * 5_000: "the body must be a JSON object",  # nested deep enough to break a naive parser
        "\xff": "the body must be a JSON object",
        # found by an adversarial pass: each was a 500 (an unhashable type; lone surrogates JSON lets through)
        '{"type": {"a": 1}}': "'type' must be 'search' or 'click'",
        '{"type": ["click"]}': "'type' must be 'search' or 'click'",
        '{"type": "search", "params": "q=\\ud800"}': "'params' must be text",
        '{"type": "click", "params": "q=a", "url": "https://x\\ud800", "rank": 1}': "'url' must be text",
    }
    for body, expected in cases.items():
        answer = client.post(
            "/api/events", data=body.encode("utf-8", "surrogateescape"), content_type="application/json"
        )
        assert answer.status_code == 400, body[:60]
        assert expected in answer.get_json()["error"], (body[:60], answer.get_json())


def test_a_search_event_for_the_last_week_python_can_date_is_recorded(seeds_index, tmp_path):
    # 9999-W52 ends past 9999-12-31: its period overflowed into a 500 (an adversarial pass)
    client = make_app(seeds_index, tmp_path).test_client()
    assert client.post("/api/events", json={"type": "search", "params": "filter=date:9999-W52"}).status_code == 204


def test_bodies_not_sent_as_json_are_415(seeds_index, tmp_path, item_url):
    client = make_app(seeds_index, tmp_path).test_client()
    body = json.dumps(click(item_url))
    for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None):
        answer = client.post("/api/events", data=body, content_type=content_type)
        assert answer.status_code == 415, content_type
        assert "application/json" in answer.get_json()["error"]
    sent = client.post("/api/events", data=body, content_type="application/json; charset=utf-8")
    assert sent.status_code == 204


# -- 2. rate limit ---------------------------------------------------------------------------


def test_one_client_past_its_burst_gets_429_while_another_is_still_accepted(seeds_index, tmp_path, item_url):
    app = make_app(seeds_index, tmp_path, EVENTS_PER_MINUTE=1, EVENTS_BURST=5)
    client = app.test_client()
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(5):
        assert client.post("/api/events", json=click(item_url), environ_base=attacker).status_code == 204
    refused = client.post("/api/events", json=click(item_url), environ_base=attacker)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "at most 1 a minute" in refused.get_json()["error"]
    # junk counts against the limit as well: it is refused before it is read
    assert client.post("/api/events", data="x", environ_base=attacker).status_code == 429
    other = client.post("/api/events", json=click(item_url), environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert other.status_code == 204
    app.extensions["analytics"].flush()
    assert len(clicks_in(tmp_path / FILE_NAME)) == 6  # five from the attacker, one from the other client
    assert b"203.0.113.7" not in (tmp_path / FILE_NAME).read_bytes()  # addresses are never stored


def test_the_bucket_refills_at_the_configured_rate_and_forgets_old_clients():
    now = [0.0]
    limiter = RateLimiter(per_minute=30, burst=2, clock=lambda: now[0], max_clients=100)
    assert limiter.take("192.0.2.1") == 0 and limiter.take("192.0.2.1") == 0
    assert limiter.take("192.0.2.1") == pytest.approx(2.0)  # 30 a minute: one token every 2 s
    now[0] += 2.0
    assert limiter.take("192.0.2.1") == 0
    for i in range(1_000):  # addresses are kept in memory only, and only so many
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) == 100
    # one IPv6 host has a whole /64: its addresses share a bucket
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") != client_key("2001:db8:0:1::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


# -- 2. size and age limits ------------------------------------------------------------------


def test_pruning_removes_rows_older_than_the_age_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(analytics, "PRUNE_SECONDS", 0.05)  # the writer prunes on its own, even when idle
    monkeypatch.setattr(analytics, "LINGER_SECONDS", 0.0)  # the five batches below are written before a prune
    clock = Clock(NOW - dt.timedelta(days=40))
    recorder = Recorder(tmp_path / FILE_NAME, max_age_days=30, clock=clock)
    for days_ago in (40, 31, 29, 1, 0):
        clock.now = NOW - dt.timedelta(days=days_ago)
        recorder.click("police", f"https://example.org/{days_ago}-days-old", 1)
        recorder.search("police", [], 3, "page")
        recorder.flush()  # written: flush returns once the batch is in the database
    # no count of 5 here: the writer may already have pruned (every 0.05 s), which made that check flaky
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(clicks_in(recorder.path)) > 3:
        time.sleep(0.05)
    assert [row[2] for row in clicks_in(recorder.path)] == [f"https://example.org/{n}-days-old" for n in (29, 1, 0)]
    with sqlite3.connect(recorder.path) as db:
        assert db.execute("SELECT COUNT(*) FROM searches").fetchone()[0] == 3


def sizes(path) -> tuple[int, int]:
    """Bytes of the database file and of its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size, wal.stat().st_size if wal.exists() else 0


def test_searches_queued_close_together_are_written_in_one_transaction(tmp_path, monkeypatch):
    monkeypatch.setattr(analytics, "LINGER_SECONDS", 0.5)
    batches: list[tuple[Recorder, int]] = []  # other tests' recorders still run their writers: kept apart
    write = Recorder._write
    monkeypatch.setattr(
        Recorder, "_write", lambda self, db, rows: (batches.append((self, len(rows))), write(self, db, rows))
    )
    recorder = Recorder(tmp_path / FILE_NAME)
    for n in range(50):
        recorder.search(f"police {n}", [], 3, "api")
        time.sleep(0.002)  # searches arriving over 0.1 s, the writer free to take each as it comes
    recorder.flush()
    assert [size for owner, size in batches if owner is recorder and size] == [50], "one transaction for them all"
    with sqlite3.connect(recorder.path) as db:
        assert db.execute("SELECT COUNT(*) FROM searches").fetchone()[0] == 50


def test_the_size_cap_holds_by_deleting_the_oldest_hours(tmp_path):
    clock = Clock()
    recorder = Recorder(tmp_path / FILE_NAME, max_mb=1, clock=clock)
    cap, largest, largest_wal = recorder.max_bytes, 0, 0
    for hour in range(60):  # 60 hours of 300 clicks: more than four times the cap
        clock.now = NOW + dt.timedelta(hours=hour)
        for i in range(300):
            recorder.click(f"query {hour} {i}", f"https://example.org/{hour}/{i}/" + "x" * 60, 1 + i % 10)
        recorder.flush()
        main, wal = sizes(recorder.path)
        largest, largest_wal = max(largest, main), max(largest_wal, main + wal)
    assert largest <= cap, (largest, cap)
    assert largest_wal <= cap * 1.25, (largest_wal, cap)  # the WAL beside it is kept to about an eighth
    rows = clicks_in(recorder.path)
    hours = sorted({row[0] for row in rows})
    assert hours[-1] == "2024-06-03T23:00Z"  # the newest hour (59 hours after NOW) is all there
    assert sum(1 for row in rows if row[0] == hours[-1]) == 300
    assert hours[0] > "2024-06-02T12:00Z"  # the oldest hours went first
    assert recorder.dropped == 0


def test_over_the_cap_with_only_the_current_hour_new_rows_are_dropped(tmp_path):
    recorder = Recorder(tmp_path / FILE_NAME, max_mb=0.25, clock=Clock())
    largest = 0
    for i in range(6_000):
        recorder.click(f"query {i}", f"https://example.org/{i}/" + "x" * 60, 1)
        if i % 500 == 499:
            recorder.flush()
            largest = max(largest, sizes(recorder.path)[0])
    assert largest <= recorder.max_bytes
    kept = clicks_in(recorder.path)
    assert kept[0][2].startswith("https://example.org/0/")  # what was recorded first is kept
    assert recorder.dropped == 6_000 - len(kept) > 0


# -- settings --------------------------------------------------------------------------------


def test_limits_come_from_config_then_environment(seeds_index, tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCH_ANALYTICS_DAYS", "7")
    monkeypatch.setenv("SEARCH_ANALYTICS_MAX_MB", "2.5")
    monkeypatch.setenv("SEARCH_EVENTS_BURST", "9")
    app = make_app(seeds_index, tmp_path)
    recorder = app.extensions["analytics"]
    assert recorder.max_age == dt.timedelta(days=7) and recorder.max_bytes == int(2.5 * 1024 * 1024)
    assert app.extensions["event_limiter"].burst == 9 and app.extensions["event_limiter"].per_minute == 30
    recorder = make_app(seeds_index, tmp_path, ANALYTICS_DAYS=3).extensions["analytics"]
    assert recorder.max_age == dt.timedelta(days=3)
    for key, value in (("ANALYTICS_MAX_MB", 0), ("ANALYTICS_DAYS", "soon"), ("EVENTS_PER_MINUTE", float("inf"))):
        with pytest.raises(ValueError, match=f"{key} .* must be a positive number"):
            make_app(seeds_index, tmp_path, **{key: value})


def test_serve_passes_its_analytics_flags_to_the_app(seeds_index, monkeypatch):
    monkeypatch.setenv("SEARCH_ANALYTICS_MAX_MB", "12")
    seen = serve_config(monkeypatch, "--index", str(seeds_index), "serve", "--analytics-days", "14")
    assert seen["ANALYTICS_DAYS"] == 14 and seen["ANALYTICS_MAX_MB"] == 12.0
