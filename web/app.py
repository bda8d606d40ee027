"""The Flask application factory: config, blueprints, error pages, access log and security headers."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import click
from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from indexer.analysis import load_stemmer_in_background
from search import semantic
from search.analytics import FILE_NAME, Recorder
from search.engine import SearchEngine
from search.query import load_parser

from .api import api
from .feed import feed
from .pages import pages
from .policy import (
    INDEX_UNAVAILABLE,
    SECURITY_HEADERS,
    SecurityHeaders,
    apply_cache_policy,
    base_url,
    index_problem,
    version_static_urls,
)

log = logging.getLogger("news_search.access")
errors = logging.getLogger("news_search.errors")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
__all__ = ["SECURITY_HEADERS", "create_app"]


def environment_settings() -> dict[str, Any]:
    """The settings the app reads from the environment; ValueError naming the variable if one is not valid.

    ``serve`` calls it before it builds or serves, so a typo is one line, not a traceback in every worker.
    """

    def flag(name: str, default: str) -> bool:
        value = os.environ.get(name, default).strip() or default
        try:  # the words serve's flags take for the same variables (click's booleans: on/off, yes/no, 1/0...)
            return click.BOOL.convert(value, None, None)
        except click.BadParameter:
            raise ValueError(f"{name} must be on or off, got {value!r}") from None

    cache = os.environ.get("SEARCH_RESULT_CACHE", "1024").strip()
    if not (cache.isascii() and cache.isdecimal()):
        raise ValueError(f"SEARCH_RESULT_CACHE must be a whole number of answers (0 turns it off), got {cache!r}")
    return {
        "INDEX_DIR": os.environ.get("SEARCH_INDEX", "./index"),
        "RESULT_CACHE": int(cache),
        "ANALYTICS": flag("SEARCH_ANALYTICS", "on"),
        "BASE_URL": os.environ.get("SEARCH_BASE_URL", ""),
        "EXPLAIN": flag("SEARCH_EXPLAIN", "off"),
        "THUMBNAILS": flag("SEARCH_THUMBNAILS", "on"),
    }


# the error page's heading; its sentence says what to do
ERROR_HEADINGS = {
    400: "That request could not be understood",
    404: "Page not found",
    500: "Something went wrong",
    503: "Search is unavailable for a moment",
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory.

    Config keys: INDEX_DIR (env SEARCH_INDEX, default ./index), RESULT_CACHE (answers cached per
    index generation; env SEARCH_RESULT_CACHE, default 1024, 0 disables), REFRESH_SECONDS, ACCESS_LOG,
    ANALYTICS (record queries and clicks; env SEARCH_ANALYTICS, default on, "off" opts out) and
    ANALYTICS_PATH (default INDEX_DIR/analytics.sqlite3) and BASE_URL (the site's public URL for
    absolute links in feeds; env SEARCH_BASE_URL; default none: links stay relative, never from Host) and
    EXPLAIN (the page offers "Why this result?" under each hit; env SEARCH_EXPLAIN, default off) and
    THUMBNAILS (results show the items' https images, loaded by the reader's browser from the publishers;
    env SEARCH_THUMBNAILS, default on, "off" turns them off).
    """
    app = Flask(__name__)
    app.config.update(
        REFRESH_SECONDS=1.0,
        JSON_SORT_KEYS=False,
        ACCESS_LOG=True,
        ANALYTICS_PATH=None,
        MAX_CONTENT_LENGTH=16 * 1024,  # only /api/events takes a body, of a few hundred bytes
        **environment_settings(),
    )
    app.config.update(config or {})
    app.config["BASE_URL"] = base_url(app.config["BASE_URL"] or "")
    # werkzeug redirects '//x' to '/x' with an absolute URL built from the Host header: answer 404
    app.url_map.merge_slashes = False
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # every response, whichever path made it
    version_static_urls(app)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    load_stemmer_in_background()  # half a second of NLTK import, off the first request's path
    load_parser()  # the query parser too (~40 ms; the command line imports it only for a query with syntax)
    app.extensions["search_engine"] = SearchEngine(
        Path(app.config["INDEX_DIR"]), app.config["REFRESH_SECONDS"], app.config["RESULT_CACHE"]
    )
    semantic.load_in_background(Path(app.config["INDEX_DIR"]))  # the embedded index's model, off the request path
    analytics_path = app.config["ANALYTICS_PATH"] or Path(app.config["INDEX_DIR"]) / FILE_NAME
    app.extensions["analytics"] = (
        Recorder.from_settings(Path(analytics_path), app.config) if app.config["ANALYTICS"] else None
    )
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(feed)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex[:16]

    @app.after_request
    def _headers_and_log(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        apply_cache_policy(response, app.static_folder)
        if app.config["ACCESS_LOG"]:
            took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            log.info(
                "%s %s %s %d %.1fms id=%s",
                request.remote_addr,
                request.method,
                request.full_path.rstrip("?"),
                response.status_code,
                took,
                g.get("request_id", ""),
            )
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # keep what the exception says beside its page (405's Allow), not its content type
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description, status=exc.code), exc.code, headers
        return _error_page(exc.code, exc.description), exc.code, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # the operator gets one structured line and the traceback; the client only a reference
        request_id = g.get("request_id", "")
        event = {
            "event": "unhandled_error",
            "request_id": request_id,
            "method": request.method,
            "path": request.path,
            "error": type(exc).__name__,
        }
        status, message = 500, f"Something went wrong on our side. Please try again (reference {request_id})."
        if _index_gone():  # deleted under the running server: say so, not "our side"
            event["event"], status, message = "index_unavailable", 503, INDEX_UNAVAILABLE
            errors.warning(json.dumps(event))
        else:
            errors.error(json.dumps(event), exc_info=exc)
        if request.path.startswith("/api/"):
            return jsonify(error=message, status=status, request_id=request_id), status
        return _error_page(status, message), status

    return app


def _error_page(status: int, message: str) -> str:
    """The page layout (banner and search box) with the error in the main column."""
    heading = ERROR_HEADINGS.get(status) or HTTP_STATUS_CODES.get(status, "Error")
    return render_template("error.html", status=status, heading=heading, message=message)


def _index_gone() -> bool:
    """Whether a fresh health check finds the index unable to answer (never raises: used on the error path)."""
    try:
        return index_problem(fresh=True) is not None
    except Exception:  # noqa: BLE001 - the original error is what gets reported
        return False
