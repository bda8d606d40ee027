"""The search page: a GET form, server-rendered results, and the same results as a fragment."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, make_response, render_template, request, url_for

from indexer.generations import IndexMissing
from indexer.records import MAX_URL_CHARS
from indexer.schema import FACETS
from search import highlight
from search.query import QUERY_REFUSALS
from search.request import SORTS, RequestError, SearchRequest
from search.timeline import PeriodError, bucket_label, bucket_period, parse_period

from .feed import feed_query
from .params import engine, query_string, record_search, request_from_args, toggle_filter
from .policy import INDEX_UNAVAILABLE, answer_etag, revalidate, tagged

pages = Blueprint("pages", __name__)

FILTER_LABELS = {**{field: facet.label for field, facet in FACETS.items()}, "story": "Story", "date": "Period"}
CHART_WIDTH, CHART_HEIGHT = 240, 64
SIDEBAR_FACETS = ("topics", "provider", "year", "kind")
FACET_SHOWN = 10  # values listed before "Show N more"
PAGE_WINDOW = 2
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


def hit_view(hit: dict[str, Any], req: SearchRequest | None = None, rank: int | None = None) -> dict[str, Any]:
    """A hit with what the hit template shows: a readable date, the highlight markup, its story's items."""
    story_url = None
    if req is not None and req.group and hit.get("story_items", 1) > 1:  # a card: its whole story one click away
        story_url = query_string(req, filters=(*req.filters, ("story", hit["story"])), group=False)
    return {
        **hit,
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


def timeline_view(req: SearchRequest, histogram: dict[str, Any]) -> dict[str, Any] | None:
    """Bars of the coverage chart: geometry, a label, and the link that toggles that period."""
    buckets, interval = histogram.get("buckets") or [], histogram.get("interval")
    if not buckets or sum(b["count"] for b in buckets) == 0:
        return None
    peak = max(b["count"] for b in buckets)
    step = CHART_WIDTH / len(buckets)
    bars = []
    for i, bucket in enumerate(buckets):
        height = 0 if not bucket["count"] else max(2.0, CHART_HEIGHT * bucket["count"] / peak)
        label = bucket_label(bucket, interval)
        bars.append(
            {
                **bucket,
                "label": label,
                "x": round(i * step, 2),
                "width": round(max(1.0, step * 0.8), 2),
                "y": round(CHART_HEIGHT - height, 2),
                "height": round(height, 2),
                "url": toggle_filter(req, "date", bucket_period(bucket)),
            }
        )
    busiest = max(bars, key=lambda b: b["count"])
    summary = (
        f"Matching items per {interval}, {bars[0]['label']} to {bars[-1]['label']};"
        f" most in {busiest['label']} ({busiest['count']})."
    )
    return {
        "interval": interval,
        "bars": bars,
        "summary": summary,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "first": bars[0]["label"],
        "last": bars[-1]["label"],
    }


def period_label(value: str) -> str:
    """A period filter as people say it: 'Jun 2020', 'week of Jun 1, 2020', '2020', else its two days."""
    try:
        start, end = parse_period(value)
    except PeriodError:
        return value
    bucket = {"start": start.isoformat(), "end": end.isoformat()}
    month_end = start.replace(day=calendar.monthrange(start.year, start.month)[1])  # no overflow at 9999-12
    if start == end:
        return _day(start)
    if start.day == 1 and end == month_end:
        return bucket_label(bucket, "month")
    if start.weekday() == 0 and (end - start).days == 6:
        return bucket_label(bucket, "week")
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        return bucket_label(bucket, "year" if start.year == end.year else "decade")
    return f"{_day(start)} – {_day(end)}"


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def story_title(key: str, hits: Sequence[dict[str, Any]]) -> str:
    """The title of the item a story is named by: from the hits shown when it is among them, else one lookup."""
    for hit in hits:
        for item in (hit, *hit.get("more_items", [])):
            if item.get("key") == key:
                return item["title"]
    try:
        found = engine().item(key)
    except IndexMissing:
        return key
    return found.get("title") or key if found else key


def value_label(field: str, value: str, hits: Sequence[dict[str, Any]] = ()) -> str:
    """How a filter's value reads: a story by its title, a period or month by name, else the facet's label."""
    if field == "story":
        return story_title(value, hits)
    if field == "date":
        return period_label(value)
    if field == "month":
        try:
            return dt.date.fromisoformat(value + "-01").strftime("%b %Y")
        except ValueError:
            return value
    return FACETS[field].label_of(value) if field in FACETS else value


def facet_view(field: str, result: dict[str, Any]) -> dict[str, Any] | None:
    """One facet: its first FACET_SHOWN values, the rest behind "Show N more" (open when one is selected)."""
    entries = [
        {**entry, "url": entry["toggle_url"], "param": f"{field}:{entry['value']}", "id": f"f-{field}-{i}"}
        for i, entry in enumerate(result["facets"].get(field, []))
    ]
    if not entries:
        return None
    meta = result["facet_meta"][field]
    shown, rest = entries[:FACET_SHOWN], entries[FACET_SHOWN:]
    return {
        "field": field,
        "label": meta["label"],
        "truncated": meta["truncated"],
        "entries": shown,
        "more": rest,
        "more_open": any(e["selected"] for e in rest),
    }


def view_model(req: SearchRequest, result: dict[str, Any]) -> dict[str, Any]:
    """What the templates need: the result plus every link already built."""
    facets = [facet for field in SIDEBAR_FACETS if (facet := facet_view(field, result))]
    # filters with no ticked box to carry them (a story, a period, a value the facet no longer lists):
    # hidden fields of the form, so a search typed or a box ticked next keeps them, as their chips say
    ticked = {e["param"].casefold() for f in facets for e in (*f["entries"], *f["more"]) if e["selected"]}
    carried = [f"{f}:{v}" for f, v in req.filters if f"{f}:{v}".casefold() not in ticked]
    first = (req.page - 1) * req.limit + 1
    hits = [hit_view(hit, req, first + i) for i, hit in enumerate(result["hits"])]
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


def _render(template: str):
    try:
        req = request_from_args(request.args)
        if current_app.config["EXPLAIN"] and req.sort == "relevance":
            req = dataclasses.replace(req, explain=True)  # "Why this result?" under each hit
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
    hits = [hit_view(hit) for hit in result["hits"]]
    related = [{**m, "date": _date(m["published"])} for m in result.get("related", [])]
    page = render_template(
        "similar.html",
        hits=hits,
        related=related,
        related_total=result.get("related_total", len(related)),
        source_title=result["title"],
        source_url=result["url"],
    )
    return tagged(make_response(page), etag)
