"""The SQLite FTS5 anchor as a web service, on the same WSGI stack as ``search-cli serve --workers N``.

    python bench/fts_server.py --db fts.db --port 8001 --workers 2

``/api/search?q=`` runs ``bench.baseline.sqlite_search`` (top 10 with highlight()/snippet(), total,
facet counts by GROUP BY) and answers JSON through Flask, on gunicorn with this product's
settings (``web.prefork.options``): the difference bench/throughput.py measures is the engine.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, jsonify, request  # noqa: E402

from bench.baseline import sqlite_search  # noqa: E402
from web.prefork import PreforkServer, options  # noqa: E402


def create_fts_app(db_path: Path) -> Flask:
    app = Flask(__name__)
    local = threading.local()

    @app.get("/api/search")
    def search():
        db = getattr(local, "db", None)
        if db is None:
            db = local.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        q = request.args.get("q", "")
        total, hits = sqlite_search(db, q)
        return jsonify(query=q, total=total, hits=[{"url": u, "title": t, "excerpt": e} for u, t, e in hits])

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    settings = {**options("127.0.0.1", args.port, args.workers, args.threads), "errorlog": "/dev/null"}
    PreforkServer(lambda: create_fts_app(args.db), settings).run()


if __name__ == "__main__":
    main()
