"""The derived data of a generation on disk: the one module that knows its layout.

A generation directory holds, beside Whoosh's segments, ``derived/``: everything a searcher would
otherwise compute when it opens the generation (``indexer.derive``), as ``.npy`` arrays that every
process maps read-only (``numpy.load(mmap_mode="r")``), so opening costs milliseconds and the
pages are shared through the page cache. ``meta.json`` is written last: a directory without it
(or of another ``FORMAT``) is not there, and the searcher computes the same data in memory.

Strings (facet values aside, which are few and live in ``meta.json``) are sorted UTF-8 byte
strings in one blob with offsets (``Strings``), searched by bisection without building a list.
Files are written to a temporary name and renamed (``os.replace``): an update's directory
shares files with the live one by hard links, so nothing is ever rewritten in place.
"""

from __future__ import annotations

import itertools
import json
import os
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DIRECTORY = "derived"
META = "meta.json"
FORMAT = 1  # bump when the layout or any derivation changes: older directories are then ignored


class Strings:
    """Sorted strings as one UTF-8 blob and offsets: bisectable, indexable, never a Python list."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets
        self._bytes = memoryview(blob).cast("B") if blob.size else memoryview(b"")
        self._list: list[str] | None = None

    @classmethod
    def of(cls, words: Iterable[str]) -> Strings:
        """From strings already sorted by their UTF-8 bytes (Whoosh's term order)."""
        encoded = [w.encode("utf-8") for w in words]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(e) for e in encoded], dtype=np.int64)
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

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

    def bisect(self, word: str) -> int:
        """Where ``word`` would go (``bisect_left`` in string order, which equals UTF-8 byte order)."""
        return bisect_left(self, word)

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
    tfs: np.ndarray  # float64 term frequencies (Whoosh's weights)

    def get(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(live document numbers, term frequencies); empty when no live document has the term."""
        i = self.terms.find(term)
        if i < 0:
            return self.ids[:0], self.tfs[:0]
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        return self.ids[a:b], self.tfs[a:b]


@dataclass
class FacetArrays:
    """One facet field's (document, value ordinal) pairs of live documents."""

    values: list[str]
    doc_ids: np.ndarray  # int32
    ords: np.ndarray  # int32
    doc_ord: np.ndarray | None  # per-document ordinal (len(values) = none) when single-valued


@dataclass
class Derived:
    """Everything derived once from a generation (see ``indexer.derive.derive``)."""

    doc_count: int  # stored documents, deleted ones included: every per-document array is this long
    live: np.ndarray  # bool
    quality: np.ndarray  # int64 (-1: none)
    tiebreak: np.ndarray  # int64
    published: np.ndarray  # int64 Whoosh datetime longs (negative: none)
    story: np.ndarray  # int32 story ordinals
    lengths: dict[str, np.ndarray]  # float64 per-document field lengths (at least 1) of the scored fields
    field_lengths: dict[str, int]  # live totals of every scorable field
    deleted_terms: Strings  # "field\x00term" of terms held by deleted documents ...
    deleted_counts: np.ndarray  # ... and by how many (int64)
    facets: dict[str, FacetArrays]
    vocabulary: Strings  # unstemmed words, byte order
    vocabulary_df: np.ndarray  # their live document frequencies (int64)
    postings: dict[str, PostingTable]  # live postings of the scored fields

    @property
    def live_count(self) -> int:
        """Documents not deleted."""
        return int(self.live.sum())

    def deleted_df(self, field: str, term: str) -> int:
        """Deleted documents whose ``field`` holds ``term``."""
        i = self.deleted_terms.find(f"{field}\x00{term}")
        return int(self.deleted_counts[i]) if i >= 0 else 0


# -- writing ---------------------------------------------------------------------------------


def _save(folder: Path, name: str, array: np.ndarray) -> None:
    tmp = folder / f".{name}.npy.tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / f"{name}.npy")  # never in place: the name may be a hard link another generation reads


def _save_strings(folder: Path, name: str, strings: Strings) -> None:
    _save(folder, f"{name}.blob", np.asarray(strings.blob, dtype=np.uint8))
    _save(folder, f"{name}.offsets", np.asarray(strings.offsets, dtype=np.int64))


def save(gen: Path, derived: Derived) -> None:
    """Write ``derived`` into ``gen/derived/`` (arrays first, ``meta.json`` last)."""
    folder = gen / DIRECTORY
    folder.mkdir(exist_ok=True)
    for name in ("live", "quality", "tiebreak", "published", "story"):
        _save(folder, name, getattr(derived, name))
    for field, lengths in derived.lengths.items():
        _save(folder, f"length.{field}", lengths)
    _save_strings(folder, "deleted.terms", derived.deleted_terms)
    _save(folder, "deleted.counts", derived.deleted_counts)
    for field, table in derived.facets.items():
        _save(folder, f"facet.{field}.ids", table.doc_ids)
        _save(folder, f"facet.{field}.ords", table.ords)
        if table.doc_ord is not None:
            _save(folder, f"facet.{field}.doc_ord", table.doc_ord)
    _save_strings(folder, "vocabulary", derived.vocabulary)
    _save(folder, "vocabulary.df", derived.vocabulary_df)
    for field, postings in derived.postings.items():
        _save_strings(folder, f"postings.{field}.terms", postings.terms)
        _save(folder, f"postings.{field}.starts", postings.starts)
        _save(folder, f"postings.{field}.ids", postings.ids)
        _save(folder, f"postings.{field}.tfs", postings.tfs)
    meta = {
        "format": FORMAT,
        "doc_count": derived.doc_count,
        "lengths": sorted(derived.lengths),
        "field_lengths": derived.field_lengths,
        "facets": {f: {"values": t.values, "single": t.doc_ord is not None} for f, t in derived.facets.items()},
        "postings": sorted(derived.postings),
    }
    tmp = folder / (META + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / META)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading ---------------------------------------------------------------------------------


def _load(folder: Path, name: str) -> np.ndarray:
    path = folder / f"{name}.npy"
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # an empty array cannot be mapped: read it (a few bytes)
        return np.load(path, allow_pickle=False)


def _load_strings(folder: Path, name: str) -> Strings:
    return Strings(_load(folder, f"{name}.blob"), _load(folder, f"{name}.offsets"))


def load(gen: Path) -> Derived | None:
    """The generation's derived data, mapped read-only; None when it has none (an older build)."""
    folder = gen / DIRECTORY
    try:
        meta: dict[str, Any] = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT:
        return None
    facets = {
        field: FacetArrays(
            info["values"],
            _load(folder, f"facet.{field}.ids"),
            _load(folder, f"facet.{field}.ords"),
            _load(folder, f"facet.{field}.doc_ord") if info["single"] else None,
        )
        for field, info in meta["facets"].items()
    }
    postings = {
        field: PostingTable(
            _load_strings(folder, f"postings.{field}.terms"),
            _load(folder, f"postings.{field}.starts"),
            _load(folder, f"postings.{field}.ids"),
            _load(folder, f"postings.{field}.tfs"),
        )
        for field in meta["postings"]
    }
    return Derived(
        doc_count=meta["doc_count"],
        live=_load(folder, "live"),
        quality=_load(folder, "quality"),
        tiebreak=_load(folder, "tiebreak"),
        published=_load(folder, "published"),
        story=_load(folder, "story"),
        lengths={field: _load(folder, f"length.{field}") for field in meta["lengths"]},
        field_lengths=meta["field_lengths"],
        deleted_terms=_load_strings(folder, "deleted.terms"),
        deleted_counts=_load(folder, "deleted.counts"),
        facets=facets,
        vocabulary=_load_strings(folder, "vocabulary"),
        vocabulary_df=_load(folder, "vocabulary.df"),
        postings=postings,
    )


def files(gen: Path) -> list[Path]:
    """The derived files of a generation (for checks that every process maps the same ones)."""
    folder = gen / DIRECTORY
    return sorted(folder.glob("*.npy")) if folder.is_dir() else []
