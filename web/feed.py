"""Atom feed per search: subscribe to a query and its filters (RFC 4287)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request, url_for

from indexer.generations import IndexMissing
from search.hits import iso_utc
from search.query import QUERY_REFUSALS
from search.request import RequestError, SearchRequest, build_request

from .params import engine, query_string
from .policy import INDEX_UNAVAILABLE, answer_etag, revalidate, tagged

feed = Blueprint("feed", __name__)

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 30
# tag URIs (RFC 4151): an entry's id is its canonical URL under a fixed authority and date, so it
# never changes while the item is re-indexed, re-ranked or moved between seed files
TAG_PREFIX = "tag:news-search.invalid,2026:"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Text without the characters XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _NOT_XML.sub("", text)


def entry_id(key: str) -> str:
    """A stable Atom id for an item: a tag URI built from its canonical URL."""
    return TAG_PREFIX + quote(key, safe="/?=&;:@!$'()*+,~-._")


def feed_query(req: SearchRequest) -> str:
    """The URL query that names a search to subscribe to: its words and filters only ('' for none)."""
    query = query_string(SearchRequest(q=req.q, filters=req.filters))
    return "" if query == "?" else query


def feed_id(req: SearchRequest) -> str:
    """The feed's own id: a tag URI of its search, the same whatever host or address serves it."""
    return TAG_PREFIX + "search" + quote(feed_query(req), safe="/?=&;:@!$'()*+,~-._%")


def public_url(endpoint: str, query: str = "") -> str:
    """A link to ``endpoint``: under BASE_URL when one is configured, else relative; never from Host."""
    path = url_for(endpoint)
    base = current_app.config["BASE_URL"]
    if base:
        path = base + path[len(request.script_root) :]
    return path + query


def feed_request(args) -> SearchRequest:
    """The request behind a feed: the page's query and filters, newest first, every item."""
    return build_request(
        args.get("q", ""), limit=FEED_ENTRIES, sort="newest", filters=args.getlist("filter"), group=False
    )


def build_feed(req: SearchRequest, result: dict[str, Any], self_url: str, page_url: str, built_at: float) -> bytes:
    """The Atom document for one search result (newest items first).

    ``self_url`` and ``page_url`` may be relative: readers resolve them against the feed's address.
    """
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{name}", {k: xml_safe(v) for k, v in attrs.items()})
        if text is not None:
            element.text = xml_safe(text)
        return element

    fallback = iso_utc(dt.datetime.fromtimestamp(built_at, dt.timezone.utc), "seconds")
    dated = [h["published"] for h in result["hits"] if h["published"]]
    filters = ", ".join(f"{field}: {value}" for field, value in req.filters)
    subject = f"“{req.q}”" if req.q else "all items"
    sub(root, "id", feed_id(req))
    sub(root, "title", f"News search: {subject}" + (f" ({filters})" if filters else ""))
    sub(root, "subtitle", f"The newest of {result['total']:,} matching item{'s' if result['total'] != 1 else ''}")
    sub(root, "updated", max(dated) if dated else fallback)
    sub(root, "link", rel="self", type="application/atom+xml", href=self_url)
    sub(root, "link", rel="alternate", type="text/html", href=page_url)
    author = sub(root, "author")
    sub(author, "name", "news-search")
    sub(root, "generator", "news-search")
    for hit in result["hits"]:
        entry = sub(root, "entry")
        sub(entry, "id", entry_id(hit["key"]))
        sub(entry, "title", hit["title"] or hit["url"])
        sub(entry, "updated", hit["published"] or fallback)
        if hit["published"]:
            sub(entry, "published", hit["published"])
        sub(entry, "link", rel="alternate", type="text/html", href=hit["url"])
        if hit["provider"] or hit["provider_domain"]:
            source = sub(entry, "author")
            sub(source, "name", hit["provider"] or hit["provider_domain"])
        for topic in hit["topics"]:
            sub(entry, "category", term=topic)
        if hit["excerpt"]:
            sub(entry, "summary", hit["excerpt"], type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


@feed.get("/feed.atom")
def atom():
    """The newest items matching ?q= and filter=, as an Atom feed."""
    try:
        req = feed_request(request.args)
        etag = answer_etag()
        if (unchanged := revalidate(etag)) is not None:
            return unchanged
        result = engine().search(req)
    except (RequestError, *QUERY_REFUSALS) as exc:
        return Response(f"{exc}\n", status=400, mimetype="text/plain")
    except IndexMissing:
        return Response(f"{INDEX_UNAVAILABLE}\n", status=503, mimetype="text/plain")
    self_url = public_url("feed.atom", feed_query(req))
    page_url = public_url("pages.index", feed_query(req))
    built_at = engine().generation().manifest.get("built_at", 0)
    body = build_feed(req, result, self_url, page_url, built_at)
    return tagged(Response(body, mimetype=MEDIA_TYPE.split(";")[0]), etag)
