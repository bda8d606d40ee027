"""Atom feed per search: valid RFC 4287, newest first, stable entry ids, subscribable from the page."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from indexer import build
from tests.conftest import SEEDS
from web import create_app
from web.feed import entry_id

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def atom_violations(body: bytes) -> list[str]:
    """What breaks the MUSTs of RFC 4287 for a feed document (sections 3, 4.1, 4.2)."""
    problems: list[str] = []
    root = ET.fromstring(body)
    if root.tag != f"{A}feed":
        return [f"root element is {root.tag}, not atom:feed"]

    def one(parent: ET.Element, name: str, where: str) -> ET.Element | None:
        found = parent.findall(f"{A}{name}")
        if len(found) != 1:
            problems.append(f"{where}: {len(found)} atom:{name} elements, exactly one required")
        return found[0] if found else None

    def check_iri(element: ET.Element | None, where: str) -> None:
        if element is not None and not urlsplit((element.text or "").strip()).scheme:
            problems.append(f"{where}: id {element.text!r} is not an absolute IRI")

    def check_date(element: ET.Element | None, where: str) -> None:
        if element is not None and not RFC3339.fullmatch((element.text or "").strip()):
            problems.append(f"{where}: {element.tag} {element.text!r} is not an RFC 3339 date-time")

    def check_links(parent: ET.Element, where: str) -> None:
        seen = set()
        for link in parent.findall(f"{A}link"):
            if not link.get("href"):
                problems.append(f"{where}: atom:link without href")
            if link.get("rel", "alternate") == "alternate":
                pair = (link.get("type"), link.get("hreflang"))
                if pair in seen:
                    problems.append(f"{where}: two alternate links with the same type and hreflang")
                seen.add(pair)

    def check_person(person: ET.Element, where: str) -> None:
        if len(person.findall(f"{A}name")) != 1:
            problems.append(f"{where}: a person construct needs exactly one atom:name")

    check_iri(one(root, "id", "feed"), "feed")
    one(root, "title", "feed")
    check_date(one(root, "updated", "feed"), "feed")
    check_links(root, "feed")
    feed_authors = root.findall(f"{A}author")
    for person in feed_authors:
        check_person(person, "feed")
    for i, entry in enumerate(root.findall(f"{A}entry")):
        where = f"entry {i}"
        check_iri(one(entry, "id", where), where)
        one(entry, "title", where)
        check_date(one(entry, "updated", where), where)
        for published in entry.findall(f"{A}published"):
            check_date(published, where)
        check_links(entry, where)
        authors = entry.findall(f"{A}author")
        for person in authors:
            check_person(person, where)
        if not authors and not feed_authors:
            problems.append(f"{where}: no atom:author here or on the feed")
        has_alternate = any(link.get("rel", "alternate") == "alternate" for link in entry.findall(f"{A}link"))
        if entry.find(f"{A}content") is None and not has_alternate:
            problems.append(f"{where}: needs atom:content or an alternate link")
    return problems


@pytest.fixture(scope="module")
def client(seeds_index):
    return create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False}).test_client()


def test_feed_is_valid_atom_listing_the_newest_matches(client):
    response = client.get("/feed.atom?q=police&filter=kind:related")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    assert atom_violations(response.data) == []
    root = ET.fromstring(response.data)
    entries = root.findall(f"{A}entry")
    api = client.get("/api/search?q=police&filter=kind:related&sort=newest&group=0&limit=30").get_json()
    assert [e.find(f"{A}link").get("href") for e in entries] == [h["url"] for h in api["hits"]]
    updated = [dt.datetime.fromisoformat(e.find(f"{A}updated").text.replace("Z", "+00:00")) for e in entries]
    assert updated == sorted(updated, reverse=True) and len(entries) == min(30, api["total"])
    assert root.find(f"{A}updated").text == entries[0].find(f"{A}updated").text
    assert root.find(f"{A}link[@rel='self']").get("href").endswith("/feed.atom?q=police&filter=kind%3Arelated")
    assert root.find(f"{A}link[@rel='alternate']").get("href").endswith("/?q=police&filter=kind%3Arelated")
    assert "police" in root.find(f"{A}title").text


def test_entry_ids_come_from_canonical_urls_and_survive_a_rebuild(tmp_path):
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    index = tmp_path / "index"
    build.full_build(folder, index)

    def ids() -> list[str]:
        app = create_app({"INDEX_DIR": str(index), "ACCESS_LOG": False, "ANALYTICS": False, "REFRESH_SECONDS": 0})
        body = app.test_client().get("/feed.atom?q=microsoft").data
        return [e.find(f"{A}id").text for e in ET.fromstring(body).findall(f"{A}entry")]

    before = ids()
    build.full_build(folder, index)  # a fresh generation: new document numbers, same items
    assert ids() == before and len(set(before)) == len(before) > 5
    assert all(i.startswith("tag:news-search.invalid,2026:") for i in before)
    assert entry_id("reuters.com/article/x?id=1") == "tag:news-search.invalid,2026:reuters.com/article/x?id=1"


def test_hostile_queries_stay_valid_xml_and_bad_filters_are_explained(client):
    response = client.get("/feed.atom", query_string={"q": "<script>&amp; ]]> \x0b \"'"})
    assert response.status_code == 200 and atom_violations(response.data) == []
    assert b"<script>" not in response.data
    bad = client.get("/feed.atom?filter=colour:red")
    assert bad.status_code == 400 and "cannot filter on 'colour'" in bad.get_data(as_text=True)


def test_page_offers_the_feed_of_its_search(client):
    html = client.get("/?q=facial+recognition&filter=provider:Reuters").get_data(as_text=True)
    link = re.search(r'<link rel="alternate" type="application/atom\+xml" title="([^"]+)" href="([^"]+)">', html)
    assert link and link.group(2) == "/feed.atom?q=facial+recognition&amp;filter=provider%3AReuters"
    assert 'class="feed" href="/feed.atom?q=facial+recognition&amp;filter=provider%3AReuters"' in html
    assert client.get(link.group(2).replace("&amp;", "&")).status_code == 200
