"""Flask front end: the search page, the JSON API, health and OpenAPI documents."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from search.analytics import FILE_NAME, Recorder
from search.engine import SearchEngine

from .api import api
from .feed import feed
from .pages import pages

log = logging.getLogger("news_search.access")
errors = logging.getLogger("news_search.errors")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

SECURITY_HEADERS = {
    # no inline script or style anywhere: everything is served from this origin
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


OFF = ("off", "0", "false", "no")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory.

    Config keys: INDEX_DIR (env SEARCH_INDEX, default ./index), RESULT_CACHE (answers cached per
    index generation; env SEARCH_RESULT_CACHE, default 1024, 0 disables), REFRESH_SECONDS, ACCESS_LOG,
    ANALYTICS (record queries and clicks; env SEARCH_ANALYTICS, default on, "off" opts out) and
    ANALYTICS_PATH (default INDEX_DIR/analytics.sqlite3).
    """
    app = Flask(__name__)
    app.config.update(
        INDEX_DIR=os.environ.get("SEARCH_INDEX", "./index"),
        REFRESH_SECONDS=1.0,
        RESULT_CACHE=int(os.environ.get("SEARCH_RESULT_CACHE", "1024")),
        JSON_SORT_KEYS=False,
        ACCESS_LOG=True,
        ANALYTICS=os.environ.get("SEARCH_ANALYTICS", "on").strip().lower() not in OFF,
        ANALYTICS_PATH=None,
        MAX_CONTENT_LENGTH=16 * 1024,  # only /api/events takes a body, of a few hundred bytes
    )
    app.config.update(config or {})
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["search_engine"] = SearchEngine(
        Path(app.config["INDEX_DIR"]), app.config["REFRESH_SECONDS"], app.config["RESULT_CACHE"]
    )
    analytics_path = app.config["ANALYTICS_PATH"] or Path(app.config["INDEX_DIR"]) / FILE_NAME
    app.extensions["analytics"] = Recorder(Path(analytics_path)) if app.config["ANALYTICS"] else None
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
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
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
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description, status=exc.code), exc.code
        return render_template("error.html", message=exc.description, status=exc.code), exc.code

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
        errors.error(json.dumps(event), exc_info=exc)
        message = f"Something went wrong on our side. Please try again (reference {request_id})."
        if request.path.startswith("/api/"):
            return jsonify(error=message, status=500, request_id=request_id), 500
        return render_template("error.html", message=message, status=500), 500

    return app
