"""The search page: a GET form, server-rendered results, and the same results as a fragment."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, abort, current_app, make_response, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from indexer.generations import IndexMissing
from indexer.records import MAX_URL_CHARS
from indexer.schema import FACETS
from search import highlight
from search.query import QUERY_REFUSALS
from search.request import SORTS, RequestError, SearchRequest

from .feed import feed_query
from .params import engine, query_string, record_search, request_from_args
from .policy import INDEX_UNAVAILABLE, answer_etag, revalidate, tagged
from .sidebar import facet_view, timeline_view, value_label

pages = Blueprint("pages", __name__)

FILTER_LABELS = {**{field: facet.label for field, facet in FACETS.items()}, "story": "Story", "date": "Period"}
SIDEBAR_FACETS = ("topics", "provider", "year", "kind")
PAGE_WINDOW = 2
# a link the page writes stays well inside gunicorn's 8,190-byte request line (web/prefork.py)
MAX_LINK_CHARS = 4_000
# a thumbnail's box: fixed, so a loading or missing image never moves the text (CSS crops with object-fit)
THUMB_WIDTH, THUMB_HEIGHT = 96, 64


def _date(value: str | None) -> str:
    if not value:
        return ""
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%b %-d, %Y")
    except ValueError:
        return value[:10]


def _span(first: str | None, last: str | None) -> str:
    """A story's dates as a reader says them: "Jun 9, 2020", "Jun 9 – 11, 2020", "Dec 30, 2020 – Jan 2, 2021"."""
    if not first or not last:
        return ""
    a, b = (dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (first, last))
    if a.date() == b.date():
        return _date(first)
    if (a.year, a.month) == (b.year, b.month):
        return f"{a:%b} {a.day} – {b.day}, {a.year}"
    if a.year == b.year:
        return f"{a:%b} {a.day} – {b:%b} {b.day}, {a.year}"
    return f"{_date(first)} – {_date(last)}"


def _pages(req: SearchRequest, pages_total: int) -> list[dict[str, Any]]:
    shown = sorted(
        {1, pages_total, *range(max(1, req.page - PAGE_WINDOW), min(pages_total, req.page + PAGE_WINDOW) + 1)}
    )
    links, previous = [], 0
    for number in shown:
        if number - previous > 1:
            links.append({"gap": True})
        links.append({"number": number, "url": query_string(req, page=number), "current": number == req.page})
        previous = number
    return links


def thumbnail(image: str | None) -> str | None:
    """The hit's image as a thumbnail URL: https only (never http or other schemes), None when thumbnails are off."""
    if not image or not current_app.config["THUMBNAILS"]:
        return None
    try:
        parts = urlsplit(image)
        hostname, _ = parts.hostname, parts.port
    except ValueError:  # a malformed address (a port out of range, a bad IPv6 literal)
        return None
    if parts.scheme.lower() != "https" or not hostname or any(c.isspace() or ord(c) < 32 for c in image):
        return None
    return image


def hit_view(
    hit: dict[str, Any], req: SearchRequest | None = None, rank: int | None = None, back: str = ""
) -> dict[str, Any]:
    """A hit with what the hit template shows: a readable date, the highlight markup, its story's items.

    ``back``: the search (a URL query, ``back_of``) its "Similar" page links back to.
    """
    story_url = None
    if req is not None and req.group and hit.get("story_items", 1) > 1:
        # a card: its whole story one click away, every item as the link says, not those of the query's
        # words and filters alone ("+N more matching items" lists those)
        story_url = query_string(req, q="", filters=(("story", hit["story"]),), group=False)
    similar_url = url_for("pages.similar", url=hit["url"], back=back or None) if hit.get("url") else None
    if similar_url and len(similar_url) > MAX_LINK_CHARS:  # a long query in another script, encoded twice
        similar_url = url_for("pages.similar", url=hit["url"])
    return {
        **hit,
        "similar_url": similar_url,
        "more_items": [{**m, "date": _date(m["published"])} for m in hit.get("more_items", [])],
        "story_url": story_url,
        "story_span": _span(hit.get("story_first"), hit.get("story_last")),
        "rank": rank,
        "date": _date(hit["published"]),
        "thumb": thumbnail(hit.get("image")),
        "thumb_size": (THUMB_WIDTH, THUMB_HEIGHT),
        "title_html": highlight.to_html(hit["highlight"]["title"]),  # escaped text, matches in <mark>
        "excerpt_html": highlight.to_html(hit["highlight"]["excerpt"]),
    }


def view_model(req: SearchRequest, result: dict[str, Any]) -> dict[str, Any]:
    """What the templates need: the result plus every link already built."""
    facets = [facet for field in SIDEBAR_FACETS if (facet := facet_view(field, result))]
    # filters with no ticked box to carry them (a story, a period, a value the facet no longer lists):
    # hidden fields of the form, so a search typed or a box ticked next keeps them, as their chips say
    ticked = {e["param"].casefold() for f in facets for e in (*f["entries"], *f["more"]) if e["selected"]}
    carried = [f"{f}:{v}" for f, v in req.filters if f"{f}:{v}".casefold() not in ticked]
    first = (req.page - 1) * req.limit + 1
    back = back_of(req)  # one for the page: every hit's "Similar" returns to it
    hits = [hit_view(hit, req, first + i, back) for i, hit in enumerate(result["hits"])]
    # a page past the last one (an old link, a hand-edited URL): say so and link the last page
    beyond = bool(result["total"] and not hits and req.page > result["pages"])
    return {
        "req": req,
        "result": result,
        "hits": hits,
        "facets": facets,
        "active_filters": len(req.filters),
        "carried_filters": carried,
        "timeline": timeline_view(req, result.get("timeline") or {}),
        "feed_url": url_for("feed.atom") + feed_query(req),
        "feed_title": f"News search: {req.q}" if req.q else "News search: newest items",
        "first": first,
        "last": first + len(hits) - 1,
        "sorts": [{"value": s, "url": query_string(req, sort=s), "current": s == req.sort} for s in SORTS],
        "pages": _pages(req, result["pages"]) if result["pages"] > 1 and not beyond else [],
        "beyond_last": {"page": result["pages"], "url": query_string(req, page=result["pages"])} if beyond else None,
        "prev_url": query_string(req, page=req.page - 1) if req.page > 1 else None,
        "next_url": query_string(req, page=req.page + 1) if req.page < result["pages"] else None,
        "suggestion_url": query_string(req, q=result["suggestion"]) if result.get("suggestion") else None,
        # "Showing results for <corrected> · Search instead for <typed>" (the typed words, uncorrected)
        "corrected_url": query_string(req, q=result["corrected"]) if result.get("corrected") else None,
        "exact_url": query_string(req, typos=False) if result.get("corrected") else None,
        "clear_filters_url": without_filters(req, ()) if req.filters else None,
        "selected": [
            {
                "field": FILTER_LABELS.get(f, f),
                "value": value_label(f, v, result["hits"]),
                "url": without_filters(req, tuple(p for p in req.filters if p != (f, v))),
            }
            for f, v in req.filters
        ],
    }


def without_filters(req: SearchRequest, filters: tuple[tuple[str, str], ...]) -> str:
    """The URL query with only ``filters`` left.

    Leaving a story's view (its ``story`` filter removed) groups the results again, as they were
    before "All N items of this story" turned grouping off.
    """
    left_story = any(f == "story" for f, _ in req.filters) and not any(f == "story" for f, _ in filters)
    return query_string(req, filters=filters, group=True if left_story else req.group)


def search_from(back: str) -> str:
    """The search a similar page was opened from (a URL query); '' if none or not one.

    Read again as a request and written out anew, so nothing of the link reaches the page but a valid search.
    """
    if len(back) > MAX_LINK_CHARS:  # the page writes none this long: cut, it would be another search
        return ""
    try:
        return back_of(request_from_args(MultiDict(parse_qsl(back))))
    except RequestError:
        return ""


def back_of(req: SearchRequest) -> str:
    """The URL query a similar page's "Back to search" returns to: this search, on this page."""
    return query_string(req, page=req.page).lstrip("?")


def _render(template: str):
    try:
        req = request_from_args(request.args)
        if current_app.config["EXPLAIN"] and req.sort == "relevance" and req.q.strip():
            # "Why this result?" under each hit of a search (browsing ranks by quality alone: nothing to explain)
            req = dataclasses.replace(req, explain=True)
    except RequestError as exc:
        fallback = SearchRequest(q=request.args.get("q", "")[:1000])
        return render_template(template, req=fallback, error=str(exc), sorts=[]), 400
    try:
        etag = answer_etag()
        if (unchanged := revalidate(etag, req, "page")) is not None:
            return unchanged
        result = engine().search(req)
    except QUERY_REFUSALS as exc:
        return render_template(template, req=req, error=str(exc), sorts=[]), 400
    except IndexMissing:
        return render_template(template, req=req, error=INDEX_UNAVAILABLE, sorts=[]), 503
    record_search(req, result, "page")
    return tagged(make_response(render_template(template, **view_model(req, result))), etag)


@pages.get("/")
def index():
    """The whole page."""
    return _render("search.html")


@pages.get("/results")
def results():
    """Only the results region, for the script that updates it as the user types."""
    return _render("results.html")


@pages.get("/similar")
def similar():
    """Items like the one at ?url=, most alike first."""
    url = request.args.get("url", "")[:MAX_URL_CHARS]
    back = search_from(request.args.get("back", ""))
    if not url:
        abort(400, description="'url' is required: the address of an item in the index")
    try:
        etag = answer_etag()
        if (unchanged := revalidate(etag)) is not None:
            return unchanged
        result = engine().similar(url)
    except IndexMissing:
        abort(503, description=INDEX_UNAVAILABLE)
    if result is None:
        abort(404, description="That item is not in the index.")
    hits = [hit_view(hit, back=back) for hit in result["hits"]]
    related = [{**m, "date": _date(m["published"])} for m in result.get("related", [])]
    page = render_template(
        "similar.html",
        hits=hits,
        related=related,
        related_total=result.get("related_total", len(related)),
        source_title=result["title"],
        source_url=result["url"],
        back_url=url_for("pages.index") + (f"?{back}" if back else ""),
    )
    return tagged(make_response(page), etag)
