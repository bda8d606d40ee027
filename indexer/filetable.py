"""The manifest's table of seed files (size, modification time, SHA-256 per path) as columns, and their URL keys.

An update compares every file's ``os.stat`` with it. As 20k JSON objects inside ``manifest.json``
it cost an update ~0.02 s to decode, ~0.02-0.045 s to encode and ~10 MB of fresh objects (each
page a fault in a fresh process); as columns it is read with one ``read`` and compared in numpy,
and an update writes it back by changing the few rows it read.

On disk (``files.bin`` beside ``manifest.json``): a JSON header line (count, bytes of paths), the
paths joined by NUL (no POSIX file name holds one), then size and ``mtime_ns`` (``file_time``: the later
of the modification and change times) as little-endian int64 and the SHA-256s as 64 ASCII hex digits each.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

SEP = "\0"
_INT = np.dtype("<i8")
_SHA = np.dtype("S64")


class FileTable(Mapping[str, dict]):
    """Each seed file's entry, by path (sorted): read as ``{"sha256", "size", "mtime_ns"}`` dicts on access."""

    def __init__(self, paths: list[str], size: np.ndarray, mtime_ns: np.ndarray, sha256: np.ndarray) -> None:
        if not len(paths) == len(size) == len(mtime_ns) == len(sha256):
            raise ValueError("the file table's columns differ in length")
        self.paths = paths
        self.size = np.asarray(size, dtype=_INT)
        self.mtime_ns = np.asarray(mtime_ns, dtype=_INT)
        self.sha256 = np.asarray(sha256, dtype=_SHA)
        self._place: dict[str, int] | None = None

    @classmethod
    def of(cls, files: Mapping[str, Mapping[str, Any]]) -> FileTable:
        """From per-file entries (a full build's, or a manifest written before the table existed)."""
        paths = sorted(files)
        entries = [files[p] for p in paths]
        return cls(
            paths,
            np.fromiter((e["size"] for e in entries), _INT, len(paths)),
            np.fromiter((e["mtime_ns"] for e in entries), _INT, len(paths)),
            np.array([e["sha256"].encode("ascii") for e in entries], dtype=_SHA),
        )

    @property
    def place(self) -> dict[str, int]:
        """Each path's row."""
        if self._place is None:
            self._place = {p: i for i, p in enumerate(self.paths)}
        return self._place

    def entry(self, row: int) -> dict:
        sha256, size, mtime_ns = self.sha256[row].decode("ascii"), int(self.size[row]), int(self.mtime_ns[row])
        return {"sha256": sha256, "size": size, "mtime_ns": mtime_ns}

    def __getitem__(self, path: str) -> dict:
        return self.entry(self.place[path])

    def __contains__(self, path: object) -> bool:
        return path in self.place

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def rows(self, paths: list[str]) -> np.ndarray:
        """Each of ``paths``' row here (int64, -1: not here); no dict when the paths are the table's."""
        if paths == self.paths:
            return np.arange(len(paths), dtype=np.int64)
        place = self.place
        return np.fromiter((place.get(p, -1) for p in paths), np.int64, len(paths))

    def matches(self, rows: np.ndarray, size: np.ndarray, mtime_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which files have their row's size, which have its size and modification time): stat matches."""
        if not len(self):
            nothing = np.zeros(len(rows), dtype=bool)
            return nothing, nothing
        known = rows >= 0
        at = np.where(known, rows, 0)
        same_size = known & (size == self.size[at])
        return same_size, same_size & (mtime_ns == self.mtime_ns[at])

    def updated(
        self,
        paths: list[str],
        rows: np.ndarray,
        size: np.ndarray,
        mtime_ns: np.ndarray,
        entries: Mapping[str, Mapping[str, Any]],
        gone: list[str],
    ) -> FileTable:
        """The table of ``paths`` (sorted; their ``rows`` here and stat columns) after an update's reading.

        The files read anew take their ``entries``, the ``gone`` ones (unreadable now) leave, every
        other keeps its row's hash (and the size and time just stat'ed, equal unless only the time moved).
        """
        sha = self.sha256[np.where(rows >= 0, rows, 0)] if len(self) else np.zeros(len(paths), dtype=_SHA)
        size, mtime_ns = np.array(size, dtype=_INT), np.array(mtime_ns, dtype=_INT)
        for rel, entry in entries.items():
            i = bisect.bisect_left(paths, rel)
            sha[i], size[i], mtime_ns[i] = entry["sha256"].encode("ascii"), entry["size"], entry["mtime_ns"]
        if not gone:
            return FileTable(paths, size, mtime_ns, sha)
        keep = np.ones(len(paths), dtype=bool)
        keep[[bisect.bisect_left(paths, rel) for rel in gone]] = False
        kept = [p for p, k in zip(paths, keep.tolist(), strict=True) if k]
        return FileTable(kept, size[keep], mtime_ns[keep], sha[keep])

    def forgetting(self, paths: list[str]) -> FileTable:
        """The table with ``paths``' time and hash blanked: an update that can stat them again reads them again."""
        rows = [self.place[p] for p in paths if p in self.place]
        mtime_ns, sha256 = self.mtime_ns.copy(), self.sha256.copy()
        mtime_ns[rows], sha256[rows] = 0, b""
        return FileTable(self.paths, self.size.copy(), mtime_ns, sha256)

    def to_bytes(self) -> bytes:
        joined = SEP.join(self.paths).encode("utf-8", "surrogatepass")  # any str a listing gave round-trips
        header = json.dumps({"count": len(self.paths), "paths": len(joined)}).encode("ascii")
        return b"".join((header, b"\n", joined, self.size.tobytes(), self.mtime_ns.tobytes(), self.sha256.tobytes()))

    @classmethod
    def from_bytes(cls, data: bytes) -> FileTable:
        """The table ``to_bytes`` wrote; ValueError when the bytes are not one."""
        line, _, rest = data.partition(b"\n")
        try:
            meta = json.loads(line)
            count, length = int(meta["count"]), int(meta["paths"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a file table: {exc}") from None
        if count < 0 or length < 0 or len(rest) != length + count * (8 + 8 + 64):
            raise ValueError("the file table is truncated")
        paths = rest[:length].decode("utf-8", "surrogatepass").split(SEP) if count else []
        if len(paths) != count:
            raise ValueError("the file table's paths do not match its count")
        at = length
        size = np.frombuffer(rest, dtype=_INT, count=count, offset=at)
        mtime = np.frombuffer(rest, dtype=_INT, count=count, offset=at + 8 * count)
        sha = np.frombuffer(rest, dtype=_SHA, count=count, offset=at + 16 * count)
        return cls(paths, size, mtime, sha)


def file_time(st: os.stat_result) -> int:
    """The time a file is compared by (stored as ``mtime_ns``): the later of its modification and change times.

    An edit that keeps the size and puts the old modification time back (``touch -r``, ``rsync -t``,
    an editor that restores it) still moves the change time, which no program can set, so the content
    hash is consulted; a file whose change time alone moved (chmod, a fresh checkout) is re-hashed once
    and found unchanged.
    """
    return max(st.st_mtime_ns, st.st_ctime_ns)


def stat_columns(base: str, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(size, ``file_time``) of each of ``base + path`` (size -1: cannot be stat'ed), as int64 columns."""
    sizes: list[int] = []
    times: list[int] = []
    for rel in paths:
        try:
            st = os.stat(base + rel)  # 20k files: os.path.join cost more than the stat
        except OSError:
            sizes.append(-1)
            times.append(0)
        else:
            sizes.append(st.st_size)
            times.append(file_time(st))
    return np.asarray(sizes, dtype=_INT), np.asarray(times, dtype=_INT)


class FileKeys(Mapping[str, list[str]]):
    """Each seed file's URL keys (keys.txt's body: one key a line, file after file), never split into strings.

    160k keys as Python strings cost an update ~0.03 s and ~25 MB of fresh objects (a page fault
    each page); an update needs the keys of a few files and which files hold some of its affected
    keys (``holding``): lines are told apart by a number made of their length and last eight
    bytes, computed for all of them in numpy, and only the lines that match one are decoded.
    ``buf[base:]`` is the body; ``buf`` starts with eight zero bytes, so every line has eight before its end.
    """

    def __init__(self, paths: list[str], counts: list[int], buf: bytes | bytearray, base: int) -> None:
        total = sum(counts)
        if len(paths) != len(counts) or base < PAD or (total and buf.count(b"\n", base) + 1 != total):
            raise ValueError("the key list does not match its header")
        self.paths = paths
        self.buf = buf
        self.base = base
        self.ends = list(itertools.accumulate(counts))
        self._place: dict[str, int] | None = None
        self._lines: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def of(cls, keys: Mapping[str, Sequence[str]]) -> FileKeys:
        paths = list(keys)
        body = "\n".join(k for p in paths for k in keys[p]).encode("utf-8")
        return cls(paths, [len(keys[p]) for p in paths], bytes(PAD) + body, PAD)

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Each line's (start, end) in ``buf``."""
        if self._lines is None:
            total = self.ends[-1] if self.ends else 0
            body = np.frombuffer(self.buf, dtype=np.uint8, offset=self.base) if len(self.buf) > self.base else None
            breaks = self.base + np.flatnonzero(body == 10) if body is not None else np.zeros(0, dtype=np.int64)
            starts = np.concatenate(([self.base], breaks + 1))[:total].astype(np.int64)
            self._lines = starts, np.concatenate((breaks, [len(self.buf)]))[:total].astype(np.int64)
        return self._lines

    def _line(self, i: int) -> str:
        starts, ends = self._bounds()
        return self.buf[starts[i] : ends[i]].decode("utf-8")

    def __getitem__(self, path: str) -> list[str]:
        if self._place is None:
            self._place = {p: i for i, p in enumerate(self.paths)}
        i = self._place[path]
        lo, hi = self.ends[i - 1] if i else 0, self.ends[i]
        if lo == hi:
            return []
        starts, ends = self._bounds()
        return self.buf[starts[lo] : ends[hi - 1]].decode("utf-8").split("\n")

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def holding(self, wanted: set[str]) -> tuple[set[str], set[str]]:
        """(the files holding some of ``wanted``, the ones of ``wanted`` some file holds)."""
        starts, ends = self._bounds()
        if not len(starts) or not wanted:
            return set(), set()
        encoded = [key.encode("utf-8") for key in wanted]
        lengths = np.asarray([len(e) for e in encoded], dtype=np.int64)
        probe_ends = PAD + np.cumsum(lengths)
        probe = _fingerprints(bytes(PAD) + b"".join(encoded), probe_ends - lengths, probe_ends)
        hits = np.flatnonzero(np.isin(_fingerprints(self.buf, starts, ends), probe))
        found = [(i, line) for i in hits.tolist() if (line := self._line(i)) in wanted]  # confirmed by the key
        files = {self.paths[bisect.bisect_right(self.ends, i)] for i, _ in found}
        return files, {line for _, line in found}


PAD = 8  # zero bytes before the strings ``_fingerprints`` reads


def _fingerprints(buf: bytes | bytearray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A number per string ``buf[starts[i]:ends[i]]`` from its length and last eight bytes (``PAD`` zeros lead)."""
    lengths = ends - starts
    windows = np.lib.stride_tricks.sliding_window_view(np.frombuffer(buf, dtype=np.uint8), PAD)
    tails = np.where(np.arange(PAD) >= PAD - lengths[:, None], windows[ends - PAD], 0).astype(np.uint8, copy=False)
    spread = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return np.ascontiguousarray(tails).view(np.uint64).ravel() ^ spread
