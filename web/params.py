"""URL parameters <-> search requests, shared by the page and the API."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, request
from werkzeug.datastructures import MultiDict

from search.engine import SearchEngine
from search.request import DEFAULT_LIMIT, SearchRequest, build_request


def engine() -> SearchEngine:
    """The app's search engine."""
    return current_app.extensions["search_engine"]


def request_from_args(args: MultiDict) -> SearchRequest:
    """Validate URL parameters into a request; RequestError if bad.

    q, page, limit, sort, repeated filter=field:value, group, prefix, typos and explain.
    """
    return build_request(
        args.get("q", ""),
        page=args.get("page"),
        limit=args.get("limit"),
        sort=args.get("sort"),
        filters=args.getlist("filter"),
        group=args.get("group"),
        explain=args.get("explain"),
        prefix=args.get("prefix"),
        typos=args.get("typos"),
    )


def query_string(req: SearchRequest, **changes) -> str:
    """The URL query for ``req`` with ``changes`` applied (page, sort, filters, q)."""
    q = changes.get("q", req.q)
    sort = changes.get("sort", req.sort)
    page = changes.get("page", 1)
    filters = changes.get("filters", req.filters)
    group = changes.get("group", req.group)
    typos = changes.get("typos", req.typos)
    pairs: list[tuple[str, str]] = []
    if q:
        pairs.append(("q", q))
    pairs += [("filter", f"{field}:{value}") for field, value in filters]
    if sort != "relevance":
        pairs.append(("sort", sort))
    if not group:
        pairs.append(("group", "0"))
    if not req.prefix:
        pairs.append(("prefix", "0"))
    if not typos:
        pairs.append(("typos", "0"))
    if req.limit != DEFAULT_LIMIT:
        pairs.append(("limit", str(req.limit)))
    if page != 1:
        pairs.append(("page", str(page)))
    return "?" + urlencode(pairs) if pairs else "?"


def toggle_filter(req: SearchRequest, field: str, value: str) -> str:
    """URL query that adds the facet value when absent and removes it when selected."""
    pair = (field, value)
    selected = pair in req.filters or any(f == field and v.casefold() == value.casefold() for f, v in req.filters)
    if selected:
        filters = tuple(p for p in req.filters if not (p[0] == field and p[1].casefold() == value.casefold()))
    else:
        filters = (*req.filters, pair)
    return query_string(req, filters=filters)


# sent by the page's script: "typing" for as-you-type updates, "history" for back/forward and
# repeats; those are not counted as searches (a settled as-you-type query is, via /api/events)
INTENT_HEADER = "X-Search-Intent"


def counts_as_search(req: SearchRequest) -> bool:
    """Whether analytics count ``req``: on, not browsing, page 1, and meant as a search (not typing)."""
    return (
        current_app.extensions.get("analytics") is not None
        and bool(req.q.strip() or req.filters)
        and req.page == 1
        and request.headers.get(INTENT_HEADER, "search") == "search"
    )


def record_search(req: SearchRequest, result: dict, source: str) -> None:
    """Count a search in the analytics when it ``counts_as_search``."""
    if counts_as_search(req):
        current_app.extensions["analytics"].search(req.q, req.filters, result["total"], source)
