"""The manifest's table of seed files (size, modification time, SHA-256 per path) as columns.

An update compares every file's ``os.stat`` with it. As 20k JSON objects inside ``manifest.json``
it cost an update ~0.02 s to decode, ~0.02-0.045 s to encode and ~10 MB of fresh objects (each
page a fault in a fresh process); as columns it is read with one ``read`` and compared in numpy,
and an update writes it back by changing the few rows it read.

On disk (``files.bin`` beside ``manifest.json``): a JSON header line (count, bytes of paths), the
paths joined by NUL (no POSIX file name holds one), then size and ``mtime_ns`` as little-endian
int64 and the SHA-256s as 64 ASCII hex digits each.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Iterator, Mapping
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


def stat_columns(base: str, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(size, ``mtime_ns``) of each of ``base + path`` (size -1: cannot be stat'ed), as int64 columns."""
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
            times.append(st.st_mtime_ns)
    return np.asarray(sizes, dtype=_INT), np.asarray(times, dtype=_INT)
