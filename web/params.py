"""URL parameters <-> search requests, shared by the page and the API."""

from __future__ import annotations

from flask import current_app, request
from werkzeug.datastructures import MultiDict

from search.engine import SearchEngine
from search.request import SearchRequest, build_request, query_string, toggle_filter  # noqa: F401 (re-exported)


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
