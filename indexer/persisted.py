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

import json
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .tables import PostingTable, Strings

DIRECTORY = "derived"
META = "meta.json"
FORMAT = 4  # bump when the layout or any derivation changes: older directories are then ignored


@dataclass
class FacetArrays:
    """One facet field's (document, value ordinal) pairs of live documents."""

    values: list[str]
    doc_ids: np.ndarray  # int32
    ords: np.ndarray  # int32
    layers: np.ndarray  # int32 (k, documents): each document's k-th value ordinal (len(values): none)


@dataclass
class Derived:
    """Everything derived once from a generation (see ``indexer.derive.derive``)."""

    doc_count: int  # stored documents, deleted ones included: every per-document array is this long
    live: np.ndarray  # bool
    quality: np.ndarray  # int64 (-1: none)
    tiebreak: np.ndarray  # int64
    published: np.ndarray  # int64 Whoosh datetime longs (negative: none)
    days: np.ndarray  # int64 days since 1970-01-01 (0: none), for the timeline
    months: np.ndarray  # int64 months since 1970-01 (0: none)
    key_hash: np.ndarray  # int64 hash of each item's key (an update finds the items it carries over by it)
    story: np.ndarray  # int32 the earliest item of each item's event story (itself when alone: indexer.events)
    group: np.ndarray  # int32 the earliest item of its linked group (what an update clusters again)
    stories_mode: str  # events, near-duplicates or off: what the last full build chose (indexer.events)
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
    for name in ("live", "quality", "tiebreak", "published", "days", "months", "key_hash", "story", "group"):
        _save(folder, name, getattr(derived, name))
    for field, lengths in derived.lengths.items():
        _save(folder, f"length.{field}", lengths)
    _save_strings(folder, "deleted.terms", derived.deleted_terms)
    _save(folder, "deleted.counts", derived.deleted_counts)
    for field, table in derived.facets.items():
        _save(folder, f"facet.{field}.ids", table.doc_ids)
        _save(folder, f"facet.{field}.ords", table.ords)
        _save(folder, f"facet.{field}.layers", table.layers)
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
        "facets": {f: {"values": t.values} for f, t in derived.facets.items()},
        "postings": sorted(derived.postings),
        "stories_mode": derived.stories_mode,
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
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # an empty array cannot be mapped: read it (a few bytes)
        return np.load(path, allow_pickle=False)
    # a plain array over the same mapping: numpy.memmap's Python-level __getitem__ cost 2.7 ms a request
    return mapped.view(np.ndarray)


def is_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` reads a mapped file (rather than memory of this process)."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return base is not None


def _load_strings(folder: Path, name: str) -> Strings:
    return Strings(_load(folder, f"{name}.blob"), _load(folder, f"{name}.offsets"))


def is_current(gen: Path) -> bool:
    """Whether the generation has derived data in this ``FORMAT``."""
    try:
        return json.loads((gen / DIRECTORY / META).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError):
        return False


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
            _load(folder, f"facet.{field}.layers"),
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
        days=_load(folder, "days"),
        months=_load(folder, "months"),
        key_hash=_load(folder, "key_hash"),
        story=_load(folder, "story"),
        group=_load(folder, "group"),
        stories_mode=meta.get("stories_mode", "events" if meta.get("stories_clustered", True) else "off"),
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
    """The derived files a searcher maps."""
    folder = gen / DIRECTORY
    return sorted(folder.glob("*.npy")) if folder.is_dir() else []
