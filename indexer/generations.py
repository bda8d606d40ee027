"""Index generations on disk: build beside, switch atomically, never disturb readers.

Layout of an index directory::

    index/CURRENT          name of the live generation (replaced atomically)
    index/gen-000007/      a complete Whoosh index + manifest.json
    index/.lock            held by the process that is writing (content: its pid)

A writer builds a new generation directory and only then replaces ``CURRENT``; a crash at
any moment leaves the previous generation live. Readers poll ``CURRENT``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
PREFIX = "gen-"
KEEP_OLD = 2  # generations kept behind the live one, for readers that still hold them
GRACE_SECONDS = 60.0  # ... and however many were replaced less than this long ago


class IndexMissing(Exception):
    """There is no index at the given location yet."""


class IndexBusy(Exception):
    """Another process is updating the index."""


def current_generation(index_dir: Path) -> Path:
    """The live generation directory; raises IndexMissing when there is none."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexMissing(f"no index at {index_dir}: run 'search-cli index' first") from None
    gen = index_dir / name
    if not name.startswith(PREFIX) or not (gen / MANIFEST).is_file():
        raise IndexMissing(f"index at {index_dir} is incomplete ({CURRENT} names {name!r}): rebuild with --full")
    return gen


def read_manifest(gen: Path) -> dict[str, Any]:
    """The manifest of a generation: per-file hashes and keys, problems, build facts."""
    return json.loads((gen / MANIFEST).read_text(encoding="utf-8"))


def new_generation(index_dir: Path) -> Path:
    """Create an empty directory for the next generation."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[len(PREFIX) :]) for p in index_dir.glob(PREFIX + "*") if p.name[len(PREFIX) :].isdigit()]
    gen = index_dir / f"{PREFIX}{max(numbers, default=0) + 1:06d}"
    gen.mkdir()
    return gen


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rewrite_manifest(gen: Path, manifest: dict[str, Any]) -> None:
    """Replace a generation's manifest atomically (readers see the old or the new one)."""
    tmp = gen / (MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, sort_keys=True, separators=(",", ":")))  # dumps: the C encoder
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, gen / MANIFEST)
    _fsync_dir(gen)


def publish(index_dir: Path, gen: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest, then make ``gen`` live with one atomic rename."""
    rewrite_manifest(gen, manifest)
    pointer = index_dir / (CURRENT + ".tmp")
    with open(pointer, "w", encoding="utf-8") as fh:
        fh.write(gen.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer, index_dir / CURRENT)
    _fsync_dir(index_dir)
    collect_garbage(index_dir)


def collect_garbage(index_dir: Path, now: float | None = None) -> None:
    """Remove unfinished generations, and old ones both beyond KEEP_OLD and past the grace period.

    Call with the writer lock held.

    A server re-reads CURRENT about once a second; the grace period keeps a generation
    on disk long enough for every request still running on it to finish.
    """
    now = time.time() if now is None else now
    try:
        live = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        live = ""
    gens = sorted(p for p in index_dir.glob(PREFIX + "*") if p.is_dir())
    finished = [g for g in gens if (g / MANIFEST).is_file()]
    for gen in gens:
        if gen.name != live and not (gen / MANIFEST).is_file():
            shutil.rmtree(gen, ignore_errors=True)  # left by a crashed build (we hold the writer lock)
    old = [g for g in finished if g.name < live]
    for position, gen in enumerate(old[: max(0, len(old) - KEEP_OLD)]):
        successor = old[position + 1] if position + 1 < len(old) else index_dir / live
        superseded_at = (successor / MANIFEST).stat().st_mtime if (successor / MANIFEST).exists() else now
        if now - superseded_at > GRACE_SECONDS:
            shutil.rmtree(gen, ignore_errors=True)


@contextmanager
def writer_lock(index_dir: Path, *, wait: bool = False, timeout: float | None = None) -> Iterator[None]:
    """Hold the index's writer lock; IndexBusy names the process that has it.

    An OS lock (flock) is released by the kernel when its holder dies, even by SIGKILL,
    so a crashed update never leaves the index locked.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not wait or (deadline is not None and time.monotonic() > deadline):
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                    raise IndexBusy(
                        f"an index update is already running (process {holder}); use --wait to wait for it"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock
