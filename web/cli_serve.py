"""``search-cli serve``: the web UI and JSON API on a production WSGI server (gunicorn workers, or waitress)."""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import click

from .cli_index import print_problems, run_index
from .terminal import echo, fail

# ---------------------------------------------------------------------------
# serve


def _finite(param: click.Parameter, value: float) -> float:
    """A number option that is a number: click's ranges let "nan" and "inf" through."""
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", param=param)
    return value


def _can_listen(host: str, port: int) -> None:
    """``fail`` unless ``host:port`` can be bound now (the port in use, a host that is not this machine's)."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind it
            probe.bind(address)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@click.command("serve")
@click.option(
    "--host", envvar="SEARCH_HOST", default="127.0.0.1", show_default=True, help="Address to bind (env SEARCH_HOST)."
)
@click.option(
    "--port",
    envvar="SEARCH_PORT",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port (env SEARCH_PORT).",
)
@click.option(
    "--workers",
    envvar="SEARCH_WORKERS",
    default=os.cpu_count() or 1,
    show_default="number of CPUs",
    # a digit too many (100000) forked until the machine stalled: at most 8 a CPU, at least 64
    type=click.IntRange(1, max(64, 8 * (os.cpu_count() or 1))),
    help="Processes answering requests (env SEARCH_WORKERS): more than 1 runs gunicorn (POSIX), 1 runs waitress.",
)
@click.option(
    "--threads",
    envvar="SEARCH_THREADS",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads per worker process (env SEARCH_THREADS).",
)
@click.option("--no-access-log", is_flag=True, help="Do not log one line per request.")
@click.option(
    "--analytics/--no-analytics",
    envvar="SEARCH_ANALYTICS",
    default=True,
    show_default=True,
    help="Record normalized queries and opened results beside the index (env SEARCH_ANALYTICS=off opts out).",
)
@click.option(
    "--base-url",
    envvar="SEARCH_BASE_URL",
    default="",
    help="Public URL of the site, for absolute links in feeds (env SEARCH_BASE_URL; default: relative links).",
)
@click.option(
    "--thumbnails/--no-thumbnails",
    envvar="SEARCH_THUMBNAILS",
    default=True,
    show_default=True,
    help="Show the items' images beside results; readers' browsers fetch them from the publishers "
    "(env SEARCH_THUMBNAILS=off turns them off).",
)
@click.option(
    "--analytics-days",
    envvar="SEARCH_ANALYTICS_DAYS",
    default=90,
    show_default=True,
    type=click.IntRange(min=1),
    help="Delete analytics older than this (env SEARCH_ANALYTICS_DAYS).",
)
@click.option(
    "--analytics-max-mb",
    envvar="SEARCH_ANALYTICS_MAX_MB",
    default=50.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True, max=1_000_000),
    callback=lambda _ctx, param, value: _finite(param, value),
    help="Size cap of the analytics file: the oldest hours go first (env SEARCH_ANALYTICS_MAX_MB).",
)
@click.pass_obj
def serve_command(
    obj: Any,
    host: str,
    port: int,
    workers: int,
    threads: int,
    no_access_log: bool,
    analytics: bool,
    base_url: str,
    thumbnails: bool,
    analytics_days: int,
    analytics_max_mb: float,
) -> None:
    """Serve the web UI and JSON API (gunicorn workers, waitress for one); builds the index first if needed."""
    import logging

    from indexer import generations
    from indexer.embedder import EmbedderMissing
    from indexer.generations import IndexMissing
    from indexer.writer_lock import IndexBusy

    from . import create_app
    from .app import environment_settings
    from .events import RateLimiter
    from .policy import base_url as base_url_setting
    from .server import create_server

    try:  # settings read where the app is made (in each worker) are refused here, before a build or "serving"
        base_url_setting(base_url)
        RateLimiter.from_settings({})  # SEARCH_EVENTS_PER_MINUTE, SEARCH_EVENTS_BURST
        environment_settings()  # SEARCH_EXPLAIN, SEARCH_RESULT_CACHE, ...
    except ValueError as exc:
        fail(str(exc), 2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" chatter under load
    try:
        generations.current_generation(obj.index)
    except IndexMissing:
        echo(f"no index at {obj.index}: building it from {obj.seeds}", err=True)
        try:
            report = run_index(
                obj.seeds, obj.index, full=True, wait=True, quiet=False, semantic_model=obj.semantic_model
            )
        except (IndexBusy, OSError, EmbedderMissing) as exc:
            fail(str(exc))
        print_problems(report, obj.seeds)
        echo(report.summary(), err=True)
    config = {"INDEX_DIR": str(obj.index), "ACCESS_LOG": not no_access_log, "ANALYTICS": analytics}
    config.update(ANALYTICS_DAYS=analytics_days, ANALYTICS_MAX_MB=analytics_max_mb, THUMBNAILS=thumbnails)
    config["BASE_URL"] = base_url
    # tried before "serving": gunicorn retried a taken port five times after it, waitress gave a traceback
    _can_listen(host, port)
    if workers > 1 and os.name == "posix":
        from .prefork import serve

        echo(f"serving {obj.index} on http://{host}:{port}/ with {workers} workers (Ctrl+C to stop)", err=True)
        serve(config, host=host, port=port, workers=workers, threads=threads, access_log=not no_access_log)
        return
    app = create_app(config)
    # waitress's own error replies (400, 431, ...) carry the security headers too: web.server
    server = create_server(
        app, host=host, port=port, threads=threads, ident="news-search", clear_untrusted_proxy_headers=True
    )
    echo(f"serving {obj.index} on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    server.run()
