"""JSON API: the same object as ``search-cli query --json``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from indexer.generations import IndexMissing
from search.query import QUERY_REFUSALS
from search.request import RequestError

from .openapi import openapi_document
from .params import engine, request_from_args

api = Blueprint("api", __name__)


@api.get("/api/search")
def search():
    """Ranked hits, facets and did-you-mean for the URL parameters."""
    try:
        req = request_from_args(request.args)
    except RequestError as exc:
        return jsonify(error=str(exc), status=400), 400
    try:
        return jsonify(engine().search(req))
    except QUERY_REFUSALS as exc:
        return jsonify(error=str(exc), status=400), 400
    except IndexMissing as exc:
        return jsonify(error=str(exc), status=503), 503


@api.get("/api/similar")
def similar():
    """Items most like the one at ?url= (same hit objects as /api/search)."""
    url = request.args.get("url", "")[:2_000]
    if not url:
        return jsonify(error="'url' is required: the address of an item in the index", status=400), 400
    try:
        result = engine().similar(url, limit=10)
    except IndexMissing as exc:
        return jsonify(error=str(exc), status=503), 503
    if result is None:
        return jsonify(error="that item is not in the index", status=404), 404
    return jsonify(result)


@api.get("/api/suggest")
def suggest():
    """Titles for autocomplete."""
    q = request.args.get("q", "")[:200]
    try:
        titles = engine().suggest_titles(q)
    except IndexMissing:
        titles = []
    return jsonify(query=q, suggestions=titles)


@api.get("/api/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@api.get("/healthz")
def healthz():
    """200 with the live generation when an index is loaded, 503 otherwise."""
    try:
        gen = engine().generation()
    except IndexMissing as exc:
        return jsonify(status="unavailable", error=str(exc)), 503
    return jsonify(status="ok", generation=gen.name, documents=int(gen.live.sum()))
