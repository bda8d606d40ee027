"""Sorted strings and posting lists as flat arrays: what derived data is made of, mapped or in memory."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np


class Strings:
    """Sorted strings as one UTF-8 blob and offsets: bisectable, indexable, never a Python list."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets
        self._bytes = memoryview(blob).cast("B") if blob.size else memoryview(b"")
        self._list: list[str] | None = None
        self._heads: np.ndarray | None = None

    @classmethod
    def of(cls, words: Iterable[str]) -> Strings:
        """From strings already sorted by their UTF-8 bytes (Whoosh's term order)."""
        return cls.of_bytes([w.encode("utf-8") for w in words])

    @classmethod
    def of_bytes(cls, encoded: list[bytes]) -> Strings:
        """From UTF-8 strings already sorted by their bytes."""
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(e) for e in encoded], dtype=np.int64)
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __reduce__(self):  # pickled by its arrays (a full build's writers hand their tables back)
        return (Strings, (self.blob, self.offsets))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        """The i-th string's bytes."""
        return bytes(self._bytes[int(self.offsets[i]) : int(self.offsets[i + 1])])

    def __getitem__(self, i: int) -> str:
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.raw(i).decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_list())

    def find(self, word: str) -> int:
        """Position of ``word``, or -1."""
        key = word.encode("utf-8")
        lo, hi = 0, len(self)
        while lo < hi:  # bisection on the bytes: no list of the strings is ever built
            mid = (lo + hi) // 2
            if self.raw(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(self) and self.raw(lo) == key else -1

    def find_many(self, words: list[str]) -> np.ndarray:
        """Positions of many words (-1: absent): narrowed by their first 8 bytes in numpy, then bisected."""
        if self._heads is None:  # each string's first 8 bytes as a number (zero-padded): ascending too
            starts, lengths = self.offsets[:-1], np.diff(self.offsets)
            heads = np.zeros(len(self), dtype=np.uint64)
            for k in range(8):
                byte = np.where(lengths > k, self.blob[np.minimum(starts + k, max(len(self.blob) - 1, 0))], 0)
                heads = (heads << np.uint64(8)) | byte.astype(np.uint64)
            self._heads = heads
        encoded = [w.encode("utf-8") for w in words]
        wanted = np.fromiter((int.from_bytes(e[:8].ljust(8, b"\0"), "big") for e in encoded), np.uint64, len(words))
        lows = np.searchsorted(self._heads, wanted, side="left").tolist()
        highs = np.searchsorted(self._heads, wanted, side="right").tolist()
        found = []
        for key, lo, hi in zip(encoded, lows, highs, strict=True):
            while lo < hi:
                mid = (lo + hi) // 2
                if self.raw(mid) < key:
                    lo = mid + 1
                else:
                    hi = mid
            found.append(lo if lo < len(self) and self.raw(lo) == key else -1)
        return np.asarray(found, dtype=np.int64)

    def bisect(self, word: str) -> int:
        """Where ``word`` would go (``bisect_left`` in string order, which equals UTF-8 byte order)."""
        return bisect_left(self, word)

    def splice(self, words: list[str]) -> tuple[Strings, np.ndarray, np.ndarray]:
        """These strings with ``words`` (sorted, none of them here yet) inserted in their places.

        Returns (the strings, the new place of each old string, the place of each word); the old
        bytes move in one numpy assignment, so a large vocabulary costs no Python loop.
        """
        old_places = np.arange(len(self), dtype=np.int64)
        if not words:
            return self, old_places, np.zeros(0, dtype=np.int64)
        at = np.asarray([self.bisect(w) for w in words], dtype=np.int64)  # the old string each goes before
        placed = at + np.arange(len(words))
        old_places += np.searchsorted(at, old_places, side="right")
        encoded = [w.encode("utf-8") for w in words]
        old_lengths = np.diff(np.asarray(self.offsets, dtype=np.int64))
        lengths = np.zeros(len(self) + len(words), dtype=np.int64)
        lengths[old_places] = old_lengths
        lengths[placed] = [len(e) for e in encoded]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(lengths)
        blob = np.empty(int(offsets[-1]), dtype=np.uint8)
        shift = np.repeat(offsets[old_places] - np.asarray(self.offsets[:-1], dtype=np.int64), old_lengths)
        blob[np.arange(len(shift)) + shift] = np.asarray(self.blob, dtype=np.uint8)
        for data, place in zip(encoded, placed.tolist(), strict=True):
            blob[offsets[place] : offsets[place] + len(data)] = np.frombuffer(data, dtype=np.uint8)
        return Strings(blob, offsets), old_places, placed

    def select(self, keep: np.ndarray) -> Strings:
        """The strings where ``keep`` (bool, one per string) is true."""
        lengths = np.diff(np.asarray(self.offsets, dtype=np.int64))
        offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(lengths[keep])
        return Strings(np.asarray(self.blob, dtype=np.uint8)[np.repeat(keep, lengths)], offsets)

    def to_list(self) -> list[str]:
        """Every string, decoded once and kept (for code that needs a real list, e.g. rapidfuzz)."""
        if self._list is None:
            data, offsets = bytes(self._bytes), self.offsets.tolist()
            self._list = [data[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
        return self._list


@dataclass
class PostingTable:
    """Live posting lists of one field: term i's documents are ``ids[starts[i]:starts[i+1]]``."""

    terms: Strings
    starts: np.ndarray  # int64, len(terms) + 1
    ids: np.ndarray  # int32 document numbers, ascending within a term
    tfs: np.ndarray  # term frequencies (Whoosh's weights): uint8, uint16 or float64, see ``frequencies``

    def get(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(live document numbers, term frequencies); empty when no live document has the term."""
        i = self.terms.find(term)
        if i < 0:
            return self.ids[:0], self.tfs[:0]
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        return self.ids[a:b], self.tfs[a:b]


def frequencies(tfs: np.ndarray) -> np.ndarray:
    """Term frequencies in the narrowest type that holds them exactly: uint8, uint16, else float64.

    Whoosh's weights are counts, so the scored fields' lists fit in a byte (19 MB of float64 at
    100k documents were a third of what every update wrote and fsynced); arithmetic with them
    gives the same float64 as before (an integer array with a float promotes to float64 exactly).
    The type depends on the values only, so a carried table and a derived one agree.
    """
    tfs = np.asarray(tfs)
    if tfs.dtype.kind != "u" and len(tfs) and not (tfs.min() >= 0 and np.array_equal(tfs, np.floor(tfs))):
        return tfs.astype(np.float64, copy=False)
    top = tfs.max() if len(tfs) else 0
    for dtype in (np.uint8, np.uint16):
        if top <= np.iinfo(dtype).max:
            return tfs.astype(dtype, copy=False)
    return tfs.astype(np.float64, copy=False)


Written = dict[str, dict[str, PostingTable]]  # a segment's id -> the posting tables its bulk writer held, by field
