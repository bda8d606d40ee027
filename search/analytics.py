"""Search analytics: which queries people run, which find nothing, which results they open.

Stored in a small SQLite file beside the index. Nothing personal is kept: no address, no
user agent, no cookie or session; times are cut to the hour; queries are normalized (case,
accents, spacing) and e-mail addresses and long numbers in them are masked. Writes go through
one background thread, so a request never waits for the disk. The file is bounded: rows older
than ``max_age_days`` are deleted, and over ``max_mb`` the oldest hours go (or, when only the
current hour is left, new rows are dropped).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import math
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from indexer.records import MAX_URL_CHARS

from .analytics_store import (
    FILE_NAME,
    INSERT,
    connect,
    hour_of,
    make_room,
    open_for_writing,
    prune_before,
    report,
    row_bytes,
)
from .facets import fold
from .request import MAX_LIMIT, MAX_PAGE

log = logging.getLogger(__name__)
__all__ = ["FILE_NAME", "Recorder", "connect", "normalize_filters", "normalize_query", "report", "setting"]

MAX_QUERY_CHARS = 200
MAX_RANK = MAX_PAGE * MAX_LIMIT  # a result's position: the last one of the deepest page there is
MAX_RESULTS = 10**9  # a search's hit count; bounded so it always fits SQLite's integers
DEFAULT_DAYS = 90
DEFAULT_MAX_MB = 50.0
BATCH = 200
# the writer lets events gather this long after the first of a batch: a busy server then writes one
# transaction for many searches instead of one each (0.5 ms of a worker's CPU per search at 100 searches/s)
LINGER_SECONDS = 0.05
QUEUE_SIZE = 10_000  # events waiting for the writer; beyond that they are dropped, never slowing a search
PRUNE_SECONDS = 600.0  # how often the writer deletes rows past the age limit
_EVENT_NAMES = {"searches": "a search event", "clicks": "a click event", "batch": "a batch of events"}
# an address starts where a word does and its domain is labels between dots: "\S+@\S+\.\w+" tried every
# split of "@@@…..." (2.5 s for 1,000 characters, in the request's thread)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
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


def whole_number(value: object, low: int, high: int, name: str) -> int:
    """``value`` if it is an int (not a bool) from ``low`` to ``high``; ValueError saying so otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"'{name}' must be a whole number from {low:,} to {high:,}, got {value!r:.40}")
    return value


def setting(settings: Mapping[str, Any], key: str, env: str, default: float, kind: type = float) -> Any:
    """``settings[key]``, else environment variable ``env``, else ``default``: a positive, finite number."""
    raw = settings.get(key)
    if raw is None:
        raw = os.environ.get(env, "").strip() or default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not 0 < value < math.inf:  # an unbounded limit is no limit
        raise ValueError(f"{key} (environment {env}) must be a positive number, got {raw!r}")
    return value


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Recorder:
    """Queues events and writes them in batches from one thread that no single event can stop."""

    def __init__(
        self,
        path: Path,
        *,
        max_age_days: float = DEFAULT_DAYS,
        max_mb: float = DEFAULT_MAX_MB,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.path = Path(path)
        self.max_age = dt.timedelta(days=max_age_days)
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.skipped = 0  # events refused or failed to write
        self.dropped = 0  # events not kept because the queue or the file was full
        self._clock = clock
        self._logged: set[str] = set()
        self._count_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    @classmethod
    def from_settings(cls, path: Path, settings: Mapping[str, Any]) -> Recorder:
        """A recorder limited by ANALYTICS_DAYS and ANALYTICS_MAX_MB of ``settings``, else the environment."""
        days = setting(settings, "ANALYTICS_DAYS", "SEARCH_ANALYTICS_DAYS", DEFAULT_DAYS, int)
        max_mb = setting(settings, "ANALYTICS_MAX_MB", "SEARCH_ANALYTICS_MAX_MB", DEFAULT_MAX_MB)
        return cls(path, max_age_days=days, max_mb=max_mb)

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread.is_alive()

    def search(self, q: str, filters: Iterable[tuple[str, str]], results: int, source: str) -> None:
        """Count one search (a page view, an API call, a settled as-you-type query)."""
        try:
            results = whole_number(results, 0, MAX_RESULTS, "results")
            row = (self._hour(), normalize_query(q), normalize_filters(filters), results, str(source)[:20])
        except Exception as exc:  # noqa: BLE001 - analytics must never fail a search
            self._skip("searches", exc)
            return
        self._put(("searches", row))

    def click(self, q: str, url: str, rank: int | None) -> None:
        """Count one opened result of a query (``rank`` from 1, or None when unknown)."""
        try:
            rank = None if rank is None else whole_number(rank, 1, MAX_RANK, "rank")
            row = (self._hour(), normalize_query(q), str(url)[:MAX_URL_CHARS], rank)
        except Exception as exc:  # noqa: BLE001 - analytics must never fail a request
            self._skip("clicks", exc)
            return
        self._put(("clicks", row))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is on disk."""
        self._command("flush", timeout)

    def prune(self, timeout: float = 30.0) -> None:
        """Delete rows past the age limit now (the writer also does it every PRUNE_SECONDS), and wait."""
        self._command("prune", timeout)

    def _command(self, kind: str, timeout: float) -> None:
        done = threading.Event()
        self._put((kind, done))
        done.wait(timeout)

    def _hour(self) -> str:
        return hour_of(self._clock())

    def _put(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:  # analytics must never slow or fail a search
            if item[0] in INSERT:
                self._drop("the queue is full", 1)

    def _skip(self, what: str, exc: BaseException, count: int = 1) -> None:
        """Count events that could not be recorded (``what``: a table or "batch"), and say why once."""
        with self._count_lock:
            self.skipped += count
        self._log_once(f"{_EVENT_NAMES.get(what, what)} not recorded", exc)

    def _drop(self, why: str, count: int) -> None:
        """Count events dropped for lack of room or of a file, and say why once."""
        with self._count_lock:
            self.dropped += count
        self._log_once(f"events are dropped: {why}", None)

    def _log_once(self, what: str, exc: BaseException | None) -> None:
        """Log the first problem of each kind only: a flood of bad events must not flood the log."""
        kind = f"{what}:{type(exc).__name__}"
        with self._count_lock:
            if kind in self._logged:
                return
            self._logged.add(kind)
        detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        log.warning("search analytics: %s%s; further problems of this kind are not logged", what, detail)

    # -- the writer thread ----------------------------------------------------

    def _run(self) -> None:
        db: sqlite3.Connection | None = None  # opened with the first event: an idle server leaves no file
        open_after = next_prune = 0.0
        while True:
            batch = self._next_batch()
            rows = [(kind, payload) for kind, payload in batch if kind in INSERT]
            try:
                if db is None and time.monotonic() >= open_after and (rows or self.path.exists()):
                    db = self._open()
                    open_after = time.monotonic() + PRUNE_SECONDS  # e.g. a read-only folder: try again later
                if db is None:
                    if rows:
                        self._drop(
                            f"{self.path} cannot be written (tried again every {PRUNE_SECONDS:.0f} s)", len(rows)
                        )
                    continue
                if time.monotonic() >= next_prune or any(kind == "prune" for kind, _ in batch):
                    next_prune = time.monotonic() + PRUNE_SECONDS
                    self._guarded("pruning", prune_before, db, hour_of(self._clock() - self.max_age))
                self._write(db, rows)
            except Exception as exc:  # noqa: BLE001 - the writer must outlive anything one batch does
                self._skip("batch", exc, len(rows))
            finally:
                for kind, payload in batch:
                    if kind not in INSERT:
                        payload.set()

    def _guarded(self, what: str, step: Callable[..., Any], *args: Any) -> None:
        """Run a maintenance step; a failure (e.g. the file locked by another process) waits for the next turn."""
        try:
            step(*args)
        except sqlite3.Error as exc:
            self._log_once(what, exc)

    def _next_batch(self) -> list[tuple]:
        """The next queued event (waiting up to PRUNE_SECONDS), and up to BATCH - 1 more queued LINGER_SECONDS later."""
        try:
            batch = [self._queue.get(timeout=PRUNE_SECONDS)]
        except queue.Empty:
            return []  # an idle server still prunes
        if batch[0][0] in INSERT:  # a flush or prune command is answered at once
            time.sleep(LINGER_SECONDS)
        with contextlib.suppress(queue.Empty):
            while len(batch) < BATCH:
                batch.append(self._queue.get_nowait())
        return batch

    def _open(self) -> sqlite3.Connection | None:
        try:
            return open_for_writing(self.path, self.max_bytes)
        except (OSError, sqlite3.Error) as exc:  # e.g. a read-only index folder: events are dropped
            self._log_once(f"cannot write {self.path}", exc)
            return None

    def _write(self, db: sqlite3.Connection, rows: list[tuple[str, tuple]]) -> None:
        """Insert one batch; a row that cannot be written is skipped, the others kept."""
        if not rows:
            return
        if not make_room(db, self.max_bytes, self._hour(), sum(row_bytes(row) for _, row in rows)):
            self._drop(f"{self.path} is at its cap of {self.max_bytes:,} bytes with only this hour's rows", len(rows))
            return
        try:
            with db:
                for table in INSERT:
                    db.executemany(INSERT[table], [row for kind, row in rows if kind == table])
        except sqlite3.OperationalError as exc:  # locked, disk full, I/O: every row would fail alike
            self._skip("batch", exc, len(rows))
        except Exception:  # noqa: BLE001 - a bad row (e.g. a number SQLite cannot hold): retry one by one
            for table, row in rows:
                try:
                    with db:
                        db.execute(INSERT[table], row)
                except Exception as exc:  # noqa: BLE001
                    self._skip(table, exc)
