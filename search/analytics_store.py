"""The analytics file: schema, connection, bounds on its size and age, and the report read from it.

Rows carry the hour they were recorded in (``2024-05-01T13:00Z``: ISO text sorts in time order),
and both tables are indexed by it, so the oldest rows are cheap to find and delete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

FILE_NAME = "analytics.sqlite3"
LOW_WATER = 0.9  # over the size cap, prune to this fraction of it so the next batches fit without pruning again
SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (hour TEXT NOT NULL, query TEXT NOT NULL, filters TEXT NOT NULL,
                                     results INTEGER NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clicks (hour TEXT NOT NULL, query TEXT NOT NULL, url TEXT NOT NULL, rank INTEGER);
CREATE INDEX IF NOT EXISTS searches_query ON searches(query);
CREATE INDEX IF NOT EXISTS clicks_query ON clicks(query);
CREATE INDEX IF NOT EXISTS searches_hour ON searches(hour);
CREATE INDEX IF NOT EXISTS clicks_hour ON clicks(hour);
"""
INSERT = {"searches": "INSERT INTO searches VALUES (?,?,?,?,?)", "clicks": "INSERT INTO clicks VALUES (?,?,?,?)"}
_OLDEST_HOUR = "SELECT MIN(h) FROM (SELECT MIN(hour) h FROM searches UNION ALL SELECT MIN(hour) FROM clicks)"


def hour_of(now: dt.datetime | None = None) -> str:
    """The hour a row is counted under (UTC): times are never kept more precisely."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:00Z")


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the analytics file; several server processes may share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    # before any table exists, so a new file can hand pages freed by pruning back to the disk
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


def open_for_writing(path: Path, max_bytes: int) -> sqlite3.Connection:
    """``connect``, with the WAL kept to an eighth of ``max_bytes`` and an old file made shrinkable."""
    db = connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = max(16, min(1_000, max_bytes // 8 // page_size))  # 1,000 is SQLite's default
    db.execute(f"PRAGMA wal_autocheckpoint={pages}")
    db.execute(f"PRAGMA journal_size_limit={pages * page_size}")
    if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # a file from before pruning: convert it once
        # about 1 s per 90 MB; when another process holds the file, pruning still frees pages for reuse
        with contextlib.suppress(sqlite3.Error):
            db.execute("VACUUM")
    return db


def used_bytes(db: sqlite3.Connection) -> int:
    """Bytes in pages that hold data (freed pages are reused before the file grows)."""
    count, free, size = (
        db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size")
    )
    return (count - free) * size


def prune_before(db: sqlite3.Connection, hour: str) -> int:
    """Delete the rows of hours before ``hour``; how many were deleted."""
    with db:
        deleted = sum(db.execute(f"DELETE FROM {table} WHERE hour < ?", (hour,)).rowcount for table in INSERT)
    if deleted:
        reclaim(db)
    return deleted


def row_bytes(row: tuple) -> int:
    """A generous estimate of the space a row takes, its index entries included."""
    return 2 * sum(len(str(value)) for value in row) + 48


def make_room(db: sqlite3.Connection, max_bytes: int, current_hour: str, needed: int) -> bool:
    """Whether ``needed`` more bytes fit under ``max_bytes`` once the oldest hours (not ``current_hour``) go."""
    if used_bytes(db) + needed <= max_bytes:
        return True
    deleted = False
    while used_bytes(db) + needed > max_bytes * LOW_WATER:
        oldest = db.execute(_OLDEST_HOUR).fetchone()[0]
        if oldest is None or oldest >= current_hour:
            break  # only this hour is left: the caller stops recording rather than grow
        with db:
            for table in INSERT:
                db.execute(f"DELETE FROM {table} WHERE hour = ?", (oldest,))
        deleted = True
    if deleted:
        reclaim(db)
    return used_bytes(db) + needed <= max_bytes


def reclaim(db: sqlite3.Connection) -> None:
    """Hand freed pages back to the disk and fold the WAL into the file (about 0.1 s per 8 MB freed)."""
    # executescript steps the pragma to the end; execute() would free a single page
    db.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")


def report(path: Path, *, days: int = 30, limit: int = 20, min_searches: int = 2) -> dict[str, Any]:
    """Top queries, zero-result queries and queries whose results are never opened, over ``days``."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no analytics at {path}: the server records them while it serves searches")
    since = hour_of(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))
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
