"""Index generations on disk: build beside, switch atomically, never disturb readers.

Layout of an index directory::

    index/CURRENT          name of the live generation (replaced atomically)
    index/gen-000007/      a complete Whoosh index + manifest.json + files.bin + keys.txt + stems.json
    index/.lock            flock held by the process that is writing (content: its pid)
    index/records.cache    the last full build's parsed seed files (indexer.record_cache)

A writer builds a new generation directory and only then replaces ``CURRENT``; a crash at
any moment leaves the previous generation live. Readers poll ``CURRENT``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .filetable import PAD, FileKeys, FileTable

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
FILES = "files.bin"  # the manifest's per-file table, as columns (indexer.filetable); written before the manifest
STEMS = "stems.json"  # every indexed word's stem (indexer.build.write_derived), read by queries
KEYS = "keys.txt"  # each seed file's URL keys, one a line: a JSON list of 160k strings cost 0.2 s a run
PREFIX = "gen-"
KEEP_OLD = 2  # generations kept behind the live one, for readers that still hold them
GRACE_SECONDS = 60.0  # ... and however many were replaced less than this long ago


class IndexMissing(Exception):
    """There is no index at the given location yet."""


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


def read_manifest(gen: Path, *, files: bool = True) -> dict[str, Any]:
    """The manifest of a generation: per-file sizes, times and hashes (``files``), problems, build facts.

    ``files`` is a ``FileTable`` (read from files.bin), or, in a generation written before it, the
    JSON object of per-file entries inside the manifest (which an update still reads). A reader that
    needs only the build facts (a server: ``built_at``, ``file_count``) passes ``files=False`` and
    does not depend on files.bin, which only an update reads.
    """
    manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    if files and "files" not in manifest:
        manifest["files"] = FileTable.from_bytes((gen / FILES).read_bytes())
    return manifest


def write_keys(gen: Path, keys: Mapping[str, Sequence[str]]) -> None:
    """Write each seed file's URL keys beside the manifest: a JSON header (paths, counts), then a key a line.

    Keys are canonical URLs, which never hold a line break (``urlsplit`` drops them).
    """
    paths = sorted(keys)
    flat = [key for path in paths for key in keys[path]]
    if any("\n" in key or "\r" in key for key in flat):
        raise ValueError("a URL key holds a line break")
    header = json.dumps({"paths": paths, "counts": [len(keys[path]) for path in paths]}, separators=(",", ":"))
    write_durably(gen / KEYS, (header + "\n" + "\n".join(flat)).encode("utf-8"))


def read_keys(gen: Path) -> FileKeys | None:
    """Each seed file's URL keys as ``write_keys`` wrote them; None without (an older generation) or unreadable."""
    try:
        with open(gen / KEYS, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            buf = bytearray(PAD + size)  # read once, after the zero bytes FileKeys wants before its lines
            if fh.readinto(memoryview(buf)[PAD:]) != size:
                return None
        end = buf.find(b"\n", PAD)
        meta = json.loads(buf[PAD : end if end >= 0 else len(buf)])
        return FileKeys(meta["paths"], meta["counts"], buf, end + 1 if end >= 0 else len(buf))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def new_generation(index_dir: Path) -> Path:
    """Create an empty directory for the next generation."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[len(PREFIX) :]) for p in index_dir.glob(PREFIX + "*") if p.name[len(PREFIX) :].isdigit()]
    gen = index_dir / f"{PREFIX}{max(numbers, default=0) + 1:06d}"
    gen.mkdir()
    return gen


def fsync_file(path: Path) -> None:
    """A file another library wrote, on disk (before the generation holding it is published)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """A directory's entries on disk (after files were created or renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rewrite_manifest(gen: Path, manifest: dict[str, Any], keys: Mapping[str, Sequence[str]] | None = None) -> None:
    """Replace a generation's manifest atomically (readers see the old or the new one), its ``keys`` first.

    Its ``files`` (a ``FileTable`` or per-file entries) go to files.bin, written before the manifest
    names the generation finished; the manifest holds the rest.
    """
    if keys is not None:
        write_keys(gen, keys)
    files = manifest["files"]
    table = files if isinstance(files, FileTable) else FileTable.of(files)
    write_durably(gen / FILES, table.to_bytes())
    header = {**{k: v for k, v in manifest.items() if k != "files"}, "file_count": len(table)}
    write_durably(gen / MANIFEST, json.dumps(header, separators=(",", ":")).encode("utf-8"))
    fsync_dir(gen)


def write_durably(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` under a temporary name, fsync it, and rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def publish(
    index_dir: Path,
    gen: Path,
    manifest: dict[str, Any],
    keys: Mapping[str, Sequence[str]] | None = None,
    *,
    superseded: bool = True,
) -> None:
    """Write the manifest (and each file's keys), then make ``gen`` live with one atomic rename.

    Then unfinished generations are removed, and with ``superseded`` old ones past the grace period
    (an update leaves those to ``sweep_superseded`` at the start of the next one, while it works).
    """
    rewrite_manifest(gen, manifest, keys)
    pointer = index_dir / (CURRENT + ".tmp")
    with open(pointer, "w", encoding="utf-8") as fh:
        fh.write(gen.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer, index_dir / CURRENT)
    fsync_dir(index_dir)
    remove_unfinished(index_dir)
    if superseded:
        remove_superseded(index_dir)


def _live_name(index_dir: Path) -> str:
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def remove_unfinished(index_dir: Path) -> None:
    """Remove generations without a manifest other than the live one: left by a crashed build.

    Call with the writer lock held, never while this process writes a generation.
    """
    live = _live_name(index_dir)
    for gen in sorted(p for p in index_dir.glob(PREFIX + "*") if p.is_dir()):
        if gen.name != live and not (gen / MANIFEST).is_file():
            shutil.rmtree(gen, ignore_errors=True)  # we hold the writer lock: no build is running


def remove_superseded(index_dir: Path, now: float | None = None, stop: threading.Event | None = None) -> None:
    """Remove old generations both beyond KEEP_OLD and past the grace period. Call with the writer lock held.

    A server re-reads CURRENT about once a second; the grace period keeps a generation on disk long
    enough for every request still running on it to finish. Only finished generations older than the
    live one are touched, so this may run beside the writing of a new one (``sweep_superseded``).
    Once ``stop`` is set, no further generation is begun (the oldest go first; the next sweep goes on).
    """
    now = time.time() if now is None else now
    live = _live_name(index_dir)
    old = sorted(p for p in index_dir.glob(PREFIX + "*") if p.name < live and (p / MANIFEST).is_file())
    for position, gen in enumerate(old[: max(0, len(old) - KEEP_OLD)]):
        successor = old[position + 1] if position + 1 < len(old) else index_dir / live
        try:
            superseded_at = (successor / MANIFEST).stat().st_mtime
        except OSError:
            superseded_at = now
        if stop is not None and stop.is_set():
            return
        if now - superseded_at > GRACE_SECONDS:
            shutil.rmtree(gen, ignore_errors=True)


class Sweep(threading.Thread):
    """``remove_superseded`` on a thread: ``join`` lets it finish the generation it is removing, and no more."""

    def __init__(self, index_dir: Path) -> None:
        self.stop = threading.Event()
        super().__init__(target=remove_superseded, args=(index_dir,), kwargs={"stop": self.stop}, daemon=True)

    def join(self, timeout: float | None = None) -> None:
        self.stop.set()
        super().join(timeout)


def sweep_superseded(index_dir: Path) -> Sweep:
    """``remove_superseded`` on a thread, started now: an update's unlinks overlap its reading and writing.

    Removing a generation unlinks ~75 files (0.02-0.5 s, by the disk's load); the caller joins the
    thread before it publishes (and before it returns, whatever happens), which stops it after the
    generation it is removing: a backlog (updates faster than the grace period, then a pause: 40
    generations took 2-3 s of one update) is removed over the next updates, never all in one.
    """
    thread = Sweep(index_dir)
    thread.start()
    return thread
