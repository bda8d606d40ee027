"""JSON API: the same object as ``search-cli query --json``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.datastructures import MultiDict

from indexer.generations import IndexMissing
from indexer.records import MAX_URL_CHARS
from search.engine import public_answer
from search.query import QUERY_REFUSALS
from search.request import RequestError

from .events import EventError, RateLimiter, check_rank, parse_event, retry_after
from .openapi import openapi_document
from .params import counts_as_search, engine, record_search, request_from_args
from .policy import INDEX_UNAVAILABLE, answer_etag, index_problem, revalidate, tagged

api = Blueprint("api", __name__)
ENCODED_ENTRIES = 256  # encoded answers kept per app (about 30 KB each)


@api.get("/api/search")
def search():
    """Ranked hits, facets and did-you-mean for the URL parameters."""
    try:
        req = request_from_args(request.args)
    except RequestError as exc:
        return jsonify(error=str(exc), status=400), 400
    try:
        etag = answer_etag()
        if (unchanged := revalidate(etag, req, "api")) is not None:
            return unchanged
        result = engine().search(req)
    except QUERY_REFUSALS as exc:
        return jsonify(error=str(exc), status=400), 400
    except IndexMissing:
        return jsonify(error=INDEX_UNAVAILABLE, status=503), 503
    record_search(req, result, "api")
    return tagged(_json_answer(req, result), etag)


def _json_answer(req, result: dict) -> Response:
    """The answer as JSON, encoded once per (generation, request) while it stays in the small cache.

    Encoding a 30 KB answer costs more than finding it in the engine's answer cache; only
    ``took_ms`` (always the last key) differs between two identical requests.
    """
    if not current_app.config["RESULT_CACHE"]:  # caching off means off: measure the real work
        return jsonify(public_answer(result))
    encoded, lock = current_app.extensions.setdefault("encoded_answers", (OrderedDict(), threading.Lock()))
    key = (result["generation"], req)
    with lock:
        body = encoded.get(key)
        if body is not None:
            encoded.move_to_end(key)
    if body is None:
        answer = {k: v for k, v in public_answer(result).items() if k != "took_ms"}
        body = current_app.json.dumps(answer).encode("utf-8")
        with lock:
            encoded[key] = body
            while len(encoded) > ENCODED_ENTRIES:
                encoded.popitem(last=False)
    took = current_app.json.dumps(result.get("took_ms")).encode("ascii")
    return Response(body[:-1] + b',"took_ms":' + took + b"}", mimetype="application/json")


@api.record_once
def _event_limits(state) -> None:
    """One rate limiter per app, configured when the app is made (a bad setting fails at start)."""
    state.app.extensions["event_limiter"] = RateLimiter.from_settings(state.app.config)


@api.post("/api/events")
def events():
    """What the page's script reports: a settled as-you-type search, or an opened result.

    Body (``application/json``): ``{"type": "search" | "click", "params": "q=...&filter=...",
    "url": ..., "rank": n}``; a clicked ``url`` must be an item of the index. Accepted (204) even
    when analytics are off, so the page never needs to know; 415 for other content types, 400 for
    anything the page would not send, 429 (with Retry-After) past a client's rate limit.
    """
    limiter: RateLimiter = current_app.extensions["event_limiter"]
    wait = limiter.take(request.remote_addr)  # first: a flood costs as little as possible
    if wait:
        message = (
            f"too many events from your address: at most {limiter.per_minute:g} a minute"
            f" (bursts of {limiter.burst}); try again in {retry_after(wait)} s"
        )
        return jsonify(error=message, status=429), 429, {"Retry-After": str(retry_after(wait))}
    if request.mimetype != "application/json":
        message = f"send events as JSON with Content-Type: application/json, not {request.mimetype or 'none'!r}"
        return jsonify(error=message, status=415), 415
    try:
        event = parse_event(request.get_data(cache=False))  # bodies over MAX_CONTENT_LENGTH are refused (413)
        req = request_from_args(MultiDict(parse_qsl(event.params.lstrip("?"))))
        check_rank(event, req.page, req.limit)
        if event.type == "click" and not engine().has_url(event.url):
            raise EventError("'url' is not an item in the index: only opened results are counted")
    except (EventError, RequestError) as exc:
        return jsonify(error=str(exc), status=400), 400
    except IndexMissing:
        return jsonify(error=INDEX_UNAVAILABLE, status=503), 503
    recorder = current_app.extensions.get("analytics")
    if event.type == "click" and recorder is not None:
        recorder.click(req.q, event.url, event.rank)
    elif event.type == "search" and counts_as_search(req):
        try:
            result = engine().search(req)  # usually answered from the cache: the page just showed it
        except (*QUERY_REFUSALS, IndexMissing):
            return "", 204
        record_search(req, result, "page")
    return "", 204


@api.get("/api/similar")
def similar():
    """Items most like the one at ?url= (same hit objects as /api/search)."""
    url = request.args.get("url", "")[:MAX_URL_CHARS]
    if not url:
        return jsonify(error="'url' is required: the address of an item in the index", status=400), 400
    try:
        etag = answer_etag()
        if (unchanged := revalidate(etag)) is not None:
            return unchanged
        result = engine().similar(url, limit=10)
    except IndexMissing:
        return jsonify(error=INDEX_UNAVAILABLE, status=503), 503
    if result is None:
        return jsonify(error="that item is not in the index", status=404), 404
    return tagged(jsonify(public_answer(result)), etag)


@api.get("/api/suggest")
def suggest():
    """Titles for autocomplete."""
    q = request.args.get("q", "")[:200]
    try:
        etag = answer_etag()
    except IndexMissing:  # the page's script shows no suggestions; nothing is cached
        return jsonify(query=q, suggestions=[], error=INDEX_UNAVAILABLE, status=503), 503
    if (unchanged := revalidate(etag)) is not None:
        return unchanged
    return tagged(jsonify(query=q, suggestions=engine().suggest_titles(q)), etag)


@api.get("/api/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@api.get("/healthz")
def healthz():
    """200 with the live generation when it can answer (its files are there and readable), else 503 and why.

    Cheap enough to poll: the check runs at most once per REFRESH_SECONDS and opens nothing.
    """
    problem = index_problem()
    if problem:
        return jsonify(status="unavailable", error=problem), 503
    gen = engine().generation()
    return jsonify(status="ok", generation=gen.name, documents=int(gen.live.sum()))
