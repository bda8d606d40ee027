"""What every response carries: security headers, a cache policy per route, ETags, index health."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from indexer.generations import IndexMissing
from search.request import SearchRequest

from .params import INTENT_HEADER, counts_as_search, engine, record_search

SECURITY_HEADERS = {
    # no inline script or style anywhere: everything is served from this origin, except result thumbnails,
    # which come from the publishers' image hosts over https only (never http; SEARCH_THUMBNAILS=off: none)
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NO_STORE = "no-store"
# people's searches: a browser may reuse an answer for 30 s and then revalidate it cheaply (ETag, 304);
# shared caches may not keep it, so every person's search still reaches the analytics
PRIVATE_ANSWER = "private, max-age=30"
# answers nobody counts and nothing personal is in: shared caches may keep them too
PUBLIC_ANSWER = "public, max-age=30"
CACHE_POLICY = {
    "pages.index": PRIVATE_ANSWER,
    "pages.results": PRIVATE_ANSWER,
    "api.search": PRIVATE_ANSWER,
    "pages.similar": PUBLIC_ANSWER,
    "api.similar": PUBLIC_ANSWER,
    "api.suggest": PUBLIC_ANSWER,
    "feed.atom": PUBLIC_ANSWER,
    "api.openapi": "public, max-age=300",  # changes only with a release
}  # everything else (/healthz, /api/events, errors, redirects): NO_STORE
COUNTED = frozenset(("pages.index", "pages.results", "api.search"))  # analytics depend on INTENT_HEADER
VERSIONED_STATIC = "public, max-age=31536000, immutable"  # ?v= is the file's hash: a new file is a new URL
UNVERSIONED_STATIC = "no-cache"  # revalidate every time (Flask answers 304 from its own ETag)
INDEX_UNAVAILABLE = "The search index is missing or being rebuilt; please try again in a minute."
RETRY_AFTER = "10"


class SecurityHeaders:
    """WSGI wrapper: every response of the app carries SECURITY_HEADERS, and ``no-store`` unless it says.

    At the WSGI layer rather than in ``after_request``, so no error path of Flask can skip it.
    """

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            return start_response(status, with_defaults(headers), exc_info)

        return self.wsgi_app(environ, start)


def with_defaults(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` plus each security header (and ``Cache-Control: no-store``) it does not set itself."""
    present = {name.lower() for name, _ in headers}
    defaults = [*SECURITY_HEADERS.items(), ("Cache-Control", NO_STORE)]
    return [*headers, *((name, value) for name, value in defaults if name.lower() not in present)]


def apply_cache_policy(response: Response, static_folder: str | None) -> Response:
    """Set Cache-Control by route and status: errors and anything not listed are never stored."""
    endpoint = request.endpoint or ""
    if response.status_code not in (200, 304) or request.method not in ("GET", "HEAD"):
        response.headers["Cache-Control"] = NO_STORE
        response.headers.pop("ETag", None)
    elif endpoint == "static":
        filename = (request.view_args or {}).get("filename", "")
        fresh = static_folder and request.args.get("v") == static_version(static_folder, filename)
        response.headers["Cache-Control"] = VERSIONED_STATIC if fresh else UNVERSIONED_STATIC
    else:
        response.headers["Cache-Control"] = CACHE_POLICY.get(endpoint, NO_STORE)
    if endpoint in COUNTED:
        response.vary.add(INTENT_HEADER)  # a typed query and the same query submitted are counted differently
    if response.status_code == 503:
        response.headers["Retry-After"] = RETRY_AFTER
    return response


@functools.lru_cache(maxsize=64)  # bounded: a request's file name reaches it only for files that exist
def static_version(static_folder: str, filename: str) -> str:
    """A short hash of a static file's content ('' when there is none): its URLs change with it."""
    path = Path(static_folder, filename)
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=6).hexdigest() if path.is_file() else ""
    except OSError:
        return ""


def version_static_urls(app: Flask) -> None:
    """``url_for('static', ...)`` adds ``v=<content hash>``, so a versioned URL may be cached for long."""

    @app.url_defaults
    def _add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and app.static_folder:
            version = static_version(app.static_folder, values["filename"])
            if version:
                values.setdefault("v", version)


@functools.cache
def release() -> str:
    """A fingerprint of the code and templates: a new release never answers 304 to an old page."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.blake2b(digest_size=8)
    for package in ("web", "search", "indexer"):
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".html", ".css", ".js") and path.is_file():
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def index_problem(fresh: bool = False) -> str | None:
    """Why the index cannot answer, or None; checked at most once per REFRESH_SECONDS (it is on every search)."""
    checked_at, problem = current_app.extensions.get("index_health", (float("-inf"), None))
    now = time.monotonic()
    if fresh or now - checked_at >= current_app.config["REFRESH_SECONDS"]:
        problem = engine().health()
        current_app.extensions["index_health"] = (now, problem)
    return problem


def answer_etag() -> str:
    """The weak ETag of a search answer: release, live generation (name and build time), path and query.

    Raises IndexMissing when the index cannot answer, so callers answer 503 before any work.
    """
    problem = index_problem()
    if problem:
        raise IndexMissing(problem)
    gen = engine().generation()
    parts = (release(), gen.name, repr(gen.manifest.get("built_at")), current_app.config["BASE_URL"], request.path)
    key = "\0".join(parts).encode("utf-8") + b"\0" + request.query_string
    return hashlib.blake2b(key, digest_size=12).hexdigest()


def revalidate(etag: str, req: SearchRequest | None = None, source: str = "") -> Response | None:
    """A 304 when the client already holds ``etag`` (nothing rendered or encoded), else None.

    A revalidated search is still a search to the analytics: its total comes from the engine's
    per-generation answer cache.
    """
    if not request.if_none_match.contains_weak(etag):
        return None
    if req is not None and counts_as_search(req):
        record_search(req, engine().search(req), source)
    response = Response(status=304)
    response.set_etag(etag, weak=True)
    return response


def tagged(response: Response, etag: str) -> Response:
    """``response`` with its ETag when it is an answer (errors carry none)."""
    if response.status_code == 200:
        response.set_etag(etag, weak=True)
    return response


def base_url(value: str) -> str:
    """The configured public URL of the site's root (SEARCH_BASE_URL), checked; '' keeps links relative."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"SEARCH_BASE_URL must look like https://news.example.org (no query), got {value!r}")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"SEARCH_BASE_URL must not contain spaces or control characters, got {value!r}")
    return value
