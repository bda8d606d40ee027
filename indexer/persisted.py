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
FORMAT = 7  # bump when the layout or any derivation changes: older directories are then ignored


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


SYNC_THREADS = 8  # files fsynced at once: the file system commits their data together (half the wall time)


class _Files:
    """Writes arrays under temporary names; each is fsynced and renamed into place by a pool of threads.

    A generation's 48 arrays fsynced one after the other cost ~0.4 s of an update's wall time on a
    busy disk; fsync releases the GIL, so the next file is written while the last one's data reaches
    the disk. ``close`` waits for every file: none is named before its data is durable.
    """

    def __init__(self, folder: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor  # writing only: a searcher never imports it

        self.folder = folder
        self.pool = ThreadPoolExecutor(SYNC_THREADS)
        self.pending: list = []

    def array(self, name: str, array: np.ndarray) -> None:
        tmp = self.folder / f".{name}.npy.tmp"
        fh = open(tmp, "wb")  # noqa: SIM115 - closed by _settle, on a pool thread
        try:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
            fh.flush()
        except BaseException:
            fh.close()
            raise
        self.pending.append(self.pool.submit(_settle, fh, tmp, self.folder / f"{name}.npy"))

    def strings(self, name: str, strings: Strings) -> None:
        self.array(f"{name}.blob", np.asarray(strings.blob, dtype=np.uint8))
        self.array(f"{name}.offsets", np.asarray(strings.offsets, dtype=np.int64))

    def close(self) -> None:
        """Wait until every file is durable and in place; the first failure is raised."""
        self.pool.shutdown(wait=True)
        for future in self.pending:
            future.result()


def _settle(fh, tmp: Path, final: Path) -> None:
    try:
        os.fsync(fh.fileno())
    finally:
        fh.close()
    os.replace(tmp, final)  # never in place: the name may be a hard link another generation reads


def save(gen: Path, derived: Derived) -> None:
    """Write ``derived`` into ``gen/derived/`` (arrays first, each durable, ``meta.json`` last)."""
    folder = gen / DIRECTORY
    folder.mkdir(exist_ok=True)
    files = _Files(folder)
    try:
        for name in ("live", "quality", "tiebreak", "published", "days", "months", "key_hash", "story", "group"):
            files.array(name, getattr(derived, name))
        for field, lengths in derived.lengths.items():
            files.array(f"length.{field}", lengths)
        files.strings("deleted.terms", derived.deleted_terms)
        files.array("deleted.counts", derived.deleted_counts)
        for field, table in derived.facets.items():
            for part, array in (("ids", table.doc_ids), ("ords", table.ords), ("layers", table.layers)):
                files.array(f"facet.{field}.{part}", array)
        files.strings("vocabulary", derived.vocabulary)
        files.array("vocabulary.df", derived.vocabulary_df)
        for field, postings in derived.postings.items():
            files.strings(f"postings.{field}.terms", postings.terms)
            for part, array in (("starts", postings.starts), ("ids", postings.ids), ("tfs", postings.tfs)):
                files.array(f"postings.{field}.{part}", array)
    except BaseException:
        files.pool.shutdown(wait=True)  # the files written so far settle; the error is the one raised
        raise
    files.close()
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
    path = str(folder / f"{name}.npy")  # a str: numpy.memmap resolves a Path's symlinks (a realpath per file)
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
