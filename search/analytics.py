"""Search analytics: which queries people run, which find nothing, which results they open.

Stored in a small SQLite file beside the index. Nothing personal is kept: no address, no
user agent, no cookie or session; times are cut to the hour; queries are normalized (case,
accents, spacing) and e-mail addresses and long numbers in them are masked. Writes go through
one background thread, so a request never waits for the disk.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import queue
import re
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .facets import fold

log = logging.getLogger(__name__)

FILE_NAME = "analytics.sqlite3"
MAX_QUERY_CHARS = 200
BATCH = 200
SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (hour TEXT NOT NULL, query TEXT NOT NULL, filters TEXT NOT NULL,
                                     results INTEGER NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clicks (hour TEXT NOT NULL, query TEXT NOT NULL, url TEXT NOT NULL, rank INTEGER);
CREATE INDEX IF NOT EXISTS searches_query ON searches(query);
CREATE INDEX IF NOT EXISTS clicks_query ON clicks(query);
"""
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_LONG_NUMBER = re.compile(r"\d[\d\s\-.]{5,}\d")  # phone, account and card numbers
_SPACES = re.compile(r"\s+")


def normalize_query(text: str) -> str:
    """The form a query is counted under: folded, single-spaced, personal-looking parts masked."""
    text = _EMAIL.sub("<email>", text)
    text = _LONG_NUMBER.sub("<number>", text)
    return _SPACES.sub(" ", fold(text)).strip()[:MAX_QUERY_CHARS]


def normalize_filters(filters: Iterable[tuple[str, str]]) -> str:
    """Filters as one sorted, folded string ('provider:reuters; topics:ai')."""
    return "; ".join(sorted(f"{field}:{fold(value)}" for field, value in filters))


def _hour(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:00Z")


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the analytics file; several server processes may share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


class Recorder:
    """Queues events and writes them in batches from one thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._queue: queue.Queue = queue.Queue(maxsize=100_000)
        self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def search(self, q: str, filters: Iterable[tuple[str, str]], results: int, source: str) -> None:
        """Count one search (a page view, an API call, a settled as-you-type query)."""
        self._put(("searches", (_hour(), normalize_query(q), normalize_filters(filters), int(results), source)))

    def click(self, q: str, url: str, rank: int | None) -> None:
        """Count one opened result of a query."""
        self._put(("clicks", (_hour(), normalize_query(q), url[:2_000], rank)))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is on disk."""
        done = threading.Event()
        self._put(("flush", done))
        done.wait(timeout)

    def _put(self, item: tuple) -> None:
        with contextlib.suppress(queue.Full):  # analytics must never slow or fail a search
            self._queue.put_nowait(item)

    def _run(self) -> None:
        db: sqlite3.Connection | None = None  # opened with the first event: an idle server leaves no file
        unwritable = False
        while True:
            batch = self._next_batch()
            if db is None and not unwritable:
                try:
                    db = connect(self.path)
                except (OSError, sqlite3.Error) as exc:  # e.g. a read-only index folder: count nothing
                    log.warning("search analytics are off: cannot write %s (%s)", self.path, exc)
                    unwritable = True
            rows: dict[str, list] = {"searches": [], "clicks": []}
            for kind, payload in batch:
                if kind != "flush":
                    rows[kind].append(payload)
            if db is not None:
                # a locked or full disk loses a few counts, never a search
                with contextlib.suppress(sqlite3.Error), db:
                    db.executemany("INSERT INTO searches VALUES (?,?,?,?,?)", rows["searches"])
                    db.executemany("INSERT INTO clicks VALUES (?,?,?,?)", rows["clicks"])
            for kind, payload in batch:
                if kind == "flush":
                    payload.set()

    def _next_batch(self) -> list[tuple]:
        """The next queued event (waiting for one), and up to BATCH - 1 more already queued."""
        batch = [self._queue.get()]
        with contextlib.suppress(queue.Empty):
            while len(batch) < BATCH:
                batch.append(self._queue.get_nowait())
        return batch


def report(path: Path, *, days: int = 30, limit: int = 20, min_searches: int = 2) -> dict[str, Any]:
    """Top queries, zero-result queries and queries whose results are never opened, over ``days``."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no analytics at {path}: the server records them while it serves searches")
    since = _hour(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))
    db = connect(Path(path))
    try:

        def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
            cursor = db.execute(sql, args)
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        totals = rows(
            "SELECT COUNT(*) AS searches, COUNT(DISTINCT query) AS queries,"
            " SUM(results = 0) AS zero_result_searches FROM searches WHERE hour >= ?",
            since,
        )[0]
        totals["clicks"] = db.execute("SELECT COUNT(*) FROM clicks WHERE hour >= ?", (since,)).fetchone()[0]
        totals["zero_result_searches"] = totals["zero_result_searches"] or 0
        return {
            "days": days,
            "totals": totals,
            "top_queries": rows(
                "SELECT s.query, COUNT(*) AS searches, MAX(s.results) AS results,"
                " (SELECT COUNT(*) FROM clicks c WHERE c.query = s.query AND c.hour >= ?) AS clicks"
                " FROM searches s WHERE s.hour >= ? GROUP BY s.query ORDER BY searches DESC, s.query LIMIT ?",
                since,
                since,
                limit,
            ),
            "zero_result_queries": rows(
                "SELECT query, COUNT(*) AS searches FROM searches WHERE hour >= ? AND results = 0"
                " GROUP BY query ORDER BY searches DESC, query LIMIT ?",
                since,
                limit,
            ),
            "never_clicked": rows(
                "SELECT query, COUNT(*) AS searches, MAX(results) AS results FROM searches"
                " WHERE hour >= ? AND results > 0 AND query != ''"
                " AND query NOT IN (SELECT query FROM clicks WHERE hour >= ?)"
                " GROUP BY query HAVING COUNT(*) >= ? ORDER BY searches DESC, query LIMIT ?",
                since,
                since,
                min_searches,
                limit,
            ),
        }
    finally:
        db.close()
