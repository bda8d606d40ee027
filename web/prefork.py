"""``search-cli serve --workers N``: the app in N pre-forked processes (gunicorn), for more than one core.

One process answers uncached searches on one core (the GIL); N workers use N. Each worker makes
its own app (no preloading: every worker runs its own analytics writer thread and its own
background generation loader, and threads do not survive a fork), and opens the live generation
itself: the generation's arrays are files mapped read-only (``indexer.persisted``), so opening
takes milliseconds and every worker shares the same pages through the page cache. Each worker
notices a new generation on its own (``search.generation.LiveGeneration``) and keeps answering
from the old one until the new one is open. gunicorn's master replaces a worker that dies.

gunicorn writes some error replies itself, without calling the app (a request line it cannot
parse, headers over its limits); ``SearchWorker`` gives those the app's security headers. It also
closes a keep-alive connection after ``KEEPALIVE_REQUESTS`` answers, as nginx's ``keepalive_requests``
does, so that connections spread over the workers again.
"""

from __future__ import annotations

import contextlib
import functools
import html
import threading
import time
from collections.abc import Callable
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from .policy import with_defaults


def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Write gunicorn's own error reply (``gunicorn.util.write_error``), with the security headers and ``no-store``."""
    body = (
        f"<!doctype html><title>{html.escape(reason)}</title><h1>{html.escape(reason)}</h1><p>{html.escape(mesg)}</p>\n"
    ).encode()
    headers = with_defaults([("Connection", "close"), ("Content-Type", "text/html; charset=utf-8")])
    head = f"HTTP/1.1 {status_int} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(body)}\r\n\r\n"
    util.write_nonblock(sock, head.encode("latin-1") + body)


KEEPALIVE_REQUESTS = 20


class SearchWorker(ThreadWorker):
    """gunicorn's threaded worker: its own error replies carry the security headers, and connections rotate.

    Workers accept connections from one shared socket, and a keep-alive connection stays with the
    worker that accepted it. A client holding a few connections (a browser, a proxy's upstream pool,
    wrk) can end up with all of them on one worker while the other idles: under wrk, 3 runs in 10 gave
    about one core's throughput (docs/benchmarks.md, fourth pass). So after ``KEEPALIVE_REQUESTS``
    answers a connection is closed (``Connection: close``); the client reconnects, and the worker that
    is free to accept first, usually the idle one, takes it. A reconnect costs a TCP handshake (~0.1 ms
    on loopback) every ``KEEPALIVE_REQUESTS`` answers of ~10 ms each. gunicorn closes gracefully: the
    worker's main thread waits for the client's own close, one round trip for a client that honours
    ``Connection: close`` (browsers, proxies, wrk), up to 2 s for one that does not; clients far away
    belong behind a reverse proxy on the same host, as with any gunicorn deployment.
    """

    def init_process(self) -> None:
        """Route gunicorn's error replies through ``write_error`` in this worker process, then serve."""
        # gunicorn builds those replies in one module function called from Worker.handle_error; this
        # process is a worker of ours, so replacing it here changes nothing else
        util.write_error = write_error
        super().init_process()

    def handle_request(self, req: Any, conn: Any) -> bool:
        """Answer ``req``; a connection's ``KEEPALIVE_REQUESTS``-th answer says ``Connection: close``."""
        conn.answered = getattr(conn, "answered", 0) + 1
        if conn.answered >= KEEPALIVE_REQUESTS:
            req.must_close = True  # gunicorn then writes "Connection: close" and closes after the answer
        return super().handle_request(req, conn)


class PreforkServer(BaseApplication):
    """gunicorn serving the app ``factory()`` makes in each worker (gunicorn ``options``: workers, threads...)."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Hand the options to gunicorn's settings (unknown names fail loudly)."""
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        """Each worker's own app (called after the fork)."""
        return self.factory()


FOLLOW_SECONDS = 0.25


def search_app(config: dict[str, Any]) -> Any:
    """The search app of one worker, its generation open before the first request and followed from then on."""
    from . import create_app

    # CURRENT is re-read 4 times a second (a 12-byte file): a new generation is served well within
    # a second of `index` finishing, by every worker, whatever the requests
    app = create_app({"REFRESH_SECONDS": FOLLOW_SECONDS, **config})
    follow_generations(app.extensions["search_engine"], float(app.config["REFRESH_SECONDS"]))
    return OneAtATime(app)


class OneAtATime:
    """A worker's app answering one request at a time, while its threads still read and write connections.

    A search is CPU work under the process's one GIL: threads running several at once take turns
    every 5 ms (``sys.getswitchinterval``), each evicting the others' arrays from the cache, and
    finish no sooner. Under wrk (8 connections, 2 workers of 4 threads) the server used ~10% less
    CPU a request this way (docs/benchmarks.md, fourth pass). Slow clients still cost only their
    own thread: gunicorn reads a request before calling the app and writes the answer after it.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        """The app's answer, computed while no other thread of this worker computes one."""
        with self._lock:
            return self.app(environ, start_response)


def follow_generations(engine: Any, seconds: float) -> threading.Thread:
    """Open the live generation now, then look for a new one every ``seconds`` in a daemon thread.

    Requests alone would make an idle worker notice a new generation only when one reaches it,
    and then answer it (and the next ones) from the old generation while the new one opens.
    """

    def follow() -> None:
        while True:
            with contextlib.suppress(Exception):  # no index yet, or it vanished: requests say so; keep looking
                engine.generation()
            time.sleep(seconds)

    thread = threading.Thread(target=follow, name="follow-generations", daemon=True)
    thread.start()
    return thread


def serve(config: dict[str, Any], *, host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    """Run the search app on gunicorn until it is stopped (SIGTERM or SIGINT: graceful)."""
    app_config = {**config, "ACCESS_LOG": access_log}
    PreforkServer(functools.partial(search_app, app_config), options(host, port, workers, threads)).run()


def options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """The gunicorn settings of this product (bench/ serves its FTS5 anchor with the same)."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "web.prefork.SearchWorker",
        "preload_app": False,
        "timeout": 60,  # a worker silent this long is killed and replaced
        "graceful_timeout": 10,
        "keepalive": 5,
        "proc_name": "news-search",
        "control_socket_disable": True,  # one fixed path per user: a second server would fight over it
        "accesslog": None,  # the app logs one line per request itself (ACCESS_LOG)
        "errorlog": "-",
        "forwarded_allow_ips": "",  # like waitress's clear_untrusted_proxy_headers: trust no proxy headers
        # a request line's bytes: gunicorn's default 4,094 refused a Cyrillic query of 700 characters (6 bytes
        # each in the URL). 8,190 is its largest bound (0 would read a line without end): a full 1,000
        # characters of Cyrillic, about 900 of Chinese (9 bytes each); waitress allows 256 KB
        "limit_request_line": 8190,
    }
