"""The storage adapter: the one module that knows how Whoosh lays an index out.

Everything else reads an index generation through ``Store``, as numpy arrays and plain values:
posting lists (document numbers and term frequencies), numeric columns, per-document field
lengths, deletions, stored fields, a field's words. The fast paths decode Whoosh's own blocks
and column files directly; they depend on whoosh3's private layout, so ``check_whoosh`` runs at
import and refuses to go on with another version or block format, rather than score wrongly.

Whoosh's public analysis and query-parser classes are used where they are (``indexer.analysis``,
``search.query``); its internals are named here only. The corrections this product needs in
Whoosh's behaviour are explicit calls (``install_fixes``), each with a test that fails the day
upstream fixes the defect itself (tests/test_storage.py).
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import whoosh
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, W3PerDocWriter
from whoosh.columns import NumericColumn
from whoosh.fields import DATETIME
from whoosh.reading import SegmentReader
from whoosh.util.numeric import byte_to_length

if TYPE_CHECKING:  # imported where used: whoosh.query and whoosh.searching are 30-40 ms a plain query never needs
    from whoosh import query as wq
    from whoosh.searching import Searcher

WHOOSH_VERSION = (3, 54, 0)  # pinned in pyproject.toml: the private layout below is this version's

_BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


class StorageMismatch(RuntimeError):
    """The installed Whoosh is not the one this adapter reads; upgrading needs this module checked."""


def check_whoosh() -> None:
    """Fail loudly unless the installed Whoosh has the version and block format read here."""
    if tuple(whoosh.__version__) != WHOOSH_VERSION:
        raise StorageMismatch(f"whoosh {whoosh.versionstring()} is installed; this index reader needs whoosh3 3.54.0")
    needed = {
        W3LeafMatcher: ("_read_data", "_next_block"),
        NumericColumn.Reader: ("__init__",),
    }
    missing = [f"{cls.__name__}.{name}" for cls, names in needed.items() for name in names if not hasattr(cls, name)]
    if missing:
        raise StorageMismatch(f"whoosh's block format changed ({', '.join(missing)} missing)")


check_whoosh()

from .whoosh_fixes import (  # noqa: E402 - after the version check: they patch this version's classes
    UPSTREAM_ADD_FIELD,
    UPSTREAM_AND_NOT_FIND_FIRST,
    UPSTREAM_BUFFER_FILE_INIT,
    install_fixes,
)

__all__ = [
    "UPSTREAM_ADD_FIELD",
    "UPSTREAM_AND_NOT_FIND_FIRST",
    "UPSTREAM_BUFFER_FILE_INIT",
    "Store",
    "W3PerDocWriter",
    "install_fixes",
]


# -- writing ---------------------------------------------------------------------------------


def open_for_writing(path: Path, schema=None):
    """A Whoosh index to write into: created with ``schema``, or the existing one at ``path``."""
    install_fixes()
    return whoosh_index.create_in(str(path), schema) if schema is not None else whoosh_index.open_dir(str(path))


def deleted_share(path: Path) -> float:
    """Share of a generation's stored documents that are deleted versions, from its segment list (no reader)."""
    segments = whoosh_index.open_dir(str(path))._segments()
    total = sum(seg.doc_count_all() for seg in segments)
    return sum(seg.deleted_count() for seg in segments) / total if total else 0.0


def merge_into(writer, segments: list) -> None:
    """Add the documents of ``segments`` to the segment ``writer`` is writing (a merge policy's step)."""
    for segment in segments:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()


# -- reading a generation ---------------------------------------------------------------------


class Store:
    """One opened generation directory, read as arrays. Thread-safe: one lock guards the reader.

    Opening maps the segment files and reads their tables of contents (about a millisecond: the
    files are shared with every other process that opens them, never copied, see ``install_fixes``).
    """

    def __init__(self, path: Path) -> None:
        install_fixes()
        self.path = Path(path)
        self.index = whoosh_index.open_dir(str(path))
        self.reader = self.index.reader()
        self._searcher: Searcher | None = None
        self.schema = self.index.schema
        self.doc_count = self.reader.doc_count_all()  # deleted documents included: arrays are this long
        self.lock = threading.RLock()  # Whoosh readers are not safe across threads
        # stored fields read straight from each segment's per-document reader: Whoosh's own
        # ``stored_fields`` re-checks every field against the schema in Python (a third of a read)
        leaves = self._leaves()
        self._stored_from = [offset for _sub, offset in leaves]
        self._stored_readers = [sub for sub, _offset in leaves]
        self._stored_names = frozenset(self.schema.names()) if not self.schema._dyn_fields else None

    @property
    def searcher(self) -> Searcher:
        """Whoosh's searcher over the reader, made on first use (phrases, corrections; plain words never)."""
        if self._searcher is None:
            from whoosh.searching import Searcher

            self._searcher = Searcher(self.reader, fromindex=self.index)
        return self._searcher

    def _leaves(self) -> list:
        """(segment reader, first document number) of every segment; none for an empty index.

        An index with no documents has one placeholder reader without columns or a segment.
        """
        return [(sub, offset) for sub, offset in self.reader.leaf_readers() if sub.segment() is not None]

    def field_names(self) -> list[str]:
        """Every field of the schema."""
        return list(self.schema.names())

    def scorable_fields(self) -> list[str]:
        """Fields with per-document lengths (the analyzed text fields)."""
        return [name for name in self.schema.names() if self.schema[name].scorable]

    def deleted(self) -> np.ndarray:
        """Document numbers of deleted documents, sorted, over every segment."""
        with self.lock:
            found = [
                np.fromiter(sub.deleted_docs_set, dtype=np.int64) + offset
                for sub, offset in self._leaves()
                if sub.has_deletions()
            ]
        return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def postings(self, field: str, term: str | bytes) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, term frequencies) of a term over every segment, deleted documents included."""
        ids_parts, tf_parts = [], []
        with self.lock:
            for sub, offset in self._leaves():
                if (field, term) in sub:
                    ids, tfs = _leaf_postings(sub.postings(field, term))
                    ids_parts.append(ids + offset)
                    tf_parts.append(tfs)
        if not ids_parts:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(ids_parts), np.concatenate(tf_parts)

    def doc_frequency(self, field: str, term: str) -> int:
        """Documents holding the term, deleted ones included (as Whoosh counts)."""
        with self.lock:
            return self.reader.doc_frequency(field, term)

    def field_length(self, field: str) -> int:
        """Total length of a field over every document, deleted ones included."""
        with self.lock:
            return self.reader.field_length(field)

    def doc_field_length(self, docnum: int, field: str) -> int:
        """One document's length of a field (0 when it has none)."""
        with self.lock:
            # None (not the default) for a field the document never had, e.g. an item without excerpt
            return self.reader.doc_field_length(docnum, field, 0) or 0

    def lengths(self, field: str) -> np.ndarray:
        """Every document's length of a field (as stored: one byte, decoded), at least 1."""
        return np.maximum(self.stored_lengths(field), 1.0)

    def stored_lengths(self, field: str) -> np.ndarray:
        """Every document's length of a field as stored (one byte, decoded; 0 without the field).

        What ``doc_field_length`` gives, and what the field's total counted (``whoosh_fixes``).
        """
        with self.lock:
            parts = [_length_bytes(sub, field) for sub, _ in self._leaves()]
        return _BYTE_TO_LENGTH[np.concatenate(parts)] if parts else np.zeros(0)

    def column(self, field: str) -> np.ndarray:
        """A numeric column's values for every document as int64 (a document without one: -1)."""
        fieldobj = self.schema[field]
        # signed numbers are stored shifted by half their range so they sort as unsigned
        signed_numeric = getattr(fieldobj, "signed", False) and not isinstance(fieldobj, DATETIME)
        shift = 1 << (fieldobj.bits - 1) if signed_numeric else 0
        parts = []
        with self.lock:
            for sub, _offset in self._leaves():
                values = _column_values(sub.column_reader(field), sub.doc_count_all())
                if values.dtype.kind == "u" and not shift:  # unsigned: a document without a value holds the max
                    values = np.where(values >= 2**63, 0, values).astype(np.int64) - (values >= 2**63)
                elif shift:
                    # the column's default, all ones, marks a document written without a value (Whoosh
                    # writes a missing quality's stored None as no value): read as -1, not 2**31 - 1,
                    # which the quality prior took for the best quality there is
                    values = np.where(values == 2 * shift - 1, shift - 1, values)
                parts.append(values.astype(np.int64) - shift)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def stored(self, docnum: int) -> dict[str, Any]:
        """The stored fields of one document (those of the schema's fields, as Whoosh's reader gives them)."""
        names = self._stored_names
        with self.lock:
            if names is None or not 0 <= docnum < self.doc_count:
                return self.reader.stored_fields(docnum)
            leaf = bisect_right(self._stored_from, docnum) - 1
            fields = self._stored_readers[leaf]._perdoc.stored_fields(docnum - self._stored_from[leaf])
        return {name: value for name, value in fields.items() if name in names}

    def words(self, field: str) -> Iterator[tuple[str, int]]:
        """(word, documents holding it, deleted ones included) for every word of a field, in order."""
        frequencies: dict[bytes, int] = {}
        with self.lock:
            # segment by segment: Whoosh's multi-segment reader asks every segment about every word
            # (2.5 s of a 100k-document update); a word's frequency is the sum over segments
            for sub, _offset in self._leaves():
                for term, info in sub.iter_field(field):
                    frequencies[term] = frequencies.get(term, 0) + info.doc_frequency()
        for term in sorted(frequencies):  # byte order, as Whoosh lists terms
            yield term.decode("utf-8"), frequencies[term]

    def expand(self, q: wq.MultiTerm, limit: int) -> list[bytes]:
        """At most ``limit`` index words a pattern, fuzzy term or range stands for."""
        with self.lock:
            return list(islice(q._btexts(self.reader), limit))

    def match_phrase(self, field: str, words: tuple[str, ...]) -> np.ndarray:
        """Documents holding ``words`` next to each other in ``field`` (Whoosh reads the positions)."""
        from whoosh import query as wq

        with self.lock:
            return np.fromiter(self.searcher.docs_for_query(wq.Phrase(field, list(words))), dtype=np.int64)

    def close_words(self, field: str, word: str, limit: int, maxdist: int) -> list[str]:
        """Words of a field within ``maxdist`` edits of ``word`` (sharing its first letter)."""
        with self.lock:
            corrector = self.searcher.corrector(field)
            return list(corrector.suggest(word, limit=limit, maxdist=maxdist, prefix=1))

    def segments(self) -> list[tuple[str, int]]:
        """(segment id, number of its first document) of every segment, in document order."""
        with self.lock:
            return [(sub.segment().segment_id(), offset) for sub, offset in self._leaves()]

    def segment_postings(self, position: int, field: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(term, document numbers within the segment, term frequencies) of every term of a field, in order.

        Deleted documents included: a segment's files never change, only which of its documents are live.
        """
        with self.lock:
            sub, _offset = self._leaves()[position]
            for term, _info in sub.iter_field(field):
                ids, tfs = _leaf_postings(sub.postings(field, term))
                yield term.decode("utf-8"), ids, tfs

    def segment_lists(self, position: int, field: str) -> tuple[list[str], list[int], np.ndarray, np.ndarray]:
        """One segment's posting lists of a field in one piece: (terms, postings per term, ids, weights).

        What ``segment_postings`` yields, concatenated, deleted documents included. Each term's
        matcher is made from the term info the iteration read (``postings`` looks every term up
        again) and its blocks are gathered into growing arrays: an update's new segment
        (~1,100 terms) took 0.14 s of CPU term by term, 0.09 s this way.
        """
        terms: list[str] = []
        counts: list[int] = []
        ids, weights = array("q"), array("d")  # 8 bytes a posting, not a Python object (100k segments too)
        with self.lock:
            sub, _offset = self._leaves()[position]
            reader, fmt = sub._terms, self.schema[field].format
            for term, info in sub.iter_field(field):
                matcher = reader._codec.postings_reader(reader._postfile, info, fmt, term=(field, term))
                before = len(ids)
                _gather(matcher, ids, weights)
                terms.append(term.decode("utf-8"))
                counts.append(len(ids) - before)
        return terms, counts, np.frombuffer(ids, dtype=np.int64), np.frombuffer(weights, dtype=np.float64)

    def segment_words(self, position: int, field: str) -> Iterator[tuple[str, int]]:
        """(word, documents of the segment holding it, deleted ones included) of one segment's field."""
        with self.lock:
            sub, _offset = self._leaves()[position]
            for term, info in sub.iter_field(field):
                yield term.decode("utf-8"), info.doc_frequency()

    def segment_ids(self) -> list[str]:
        """The ids of the segments the open reader reads (their files start with them)."""
        # an index of no documents (every seed file skipped) has no segments: Whoosh's reader says None
        return [s.segment_id() for s in self.reader.segments() or ()]

    def analyzer(self, field: str) -> Any:
        """The analyzer of a text field (as the index ran it)."""
        return self.schema[field].analyzer

    def analyzed(self, field: str, text: str) -> set[str]:
        """The distinct terms the field's analyzer makes of ``text`` (as at index time)."""
        return set(self.schema[field].process_text(text, mode="index"))


def _leaf_postings(matcher) -> tuple[np.ndarray, np.ndarray]:
    """(ids, weights) of one segment's posting list, decoding whole blocks at a time."""
    matcher = getattr(matcher, "child", matcher)  # drop Whoosh's deleted-docs filter: callers mask with `live`
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if isinstance(matcher, W3LeafMatcher):
        # each block is a pickled (delta ids, weights, values) tuple
        while matcher.is_active():
            matcher._read_data()
            deltas, block_weights = matcher._data[0], matcher._data[1]
            block_ids = np.cumsum(np.asarray(deltas, dtype=np.int64))
            if block_weights is None:
                block_w = np.ones(len(block_ids))
            elif isinstance(block_weights, float):
                block_w = np.full(len(block_ids), block_weights)
            else:
                block_w = np.asarray(block_weights, dtype=np.float64)
            ids.append(block_ids)
            weights.append(block_w)
            matcher._next_block()
    else:  # inlined short lists and other matchers: the public, per-posting API
        id_list, weight_list = [], []
        while matcher.is_active():
            id_list.append(matcher.id())
            weight_list.append(matcher.weight())
            matcher.next()
        ids.append(np.asarray(id_list, dtype=np.int64))
        weights.append(np.asarray(weight_list, dtype=np.float64))
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(ids), np.concatenate(weights)


def _gather(matcher, ids: array, weights: array) -> None:
    """Append one posting list's ids and weights (``_leaf_postings`` into growing arrays, for many short lists)."""
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            matcher._read_data()
            deltas, block_weights = matcher._data[0], matcher._data[1]
            ids.extend(accumulate(deltas))
            if block_weights is None or isinstance(block_weights, float):
                weights.extend([1.0 if block_weights is None else block_weights] * len(deltas))
            else:
                weights.extend(iter(block_weights))  # array("f"): converted item by item
            matcher._next_block()
        return
    while matcher.is_active():  # inlined short lists and other matchers: the public, per-posting API
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()


def _column_values(column, doccount: int) -> np.ndarray:
    """All values of a numeric column reader as one array (read in one piece when possible)."""
    column = column.raw_column() if hasattr(column, "raw_column") else column
    if isinstance(column, NumericColumn.Reader):
        # contiguous big-endian values, the default beyond _count
        dtype = np.dtype(column._typecode).newbyteorder(">")
        raw = column._dbfile.get(column._basepos, column._count * dtype.itemsize)
        values = np.frombuffer(bytes(raw), dtype=dtype).astype(np.dtype(column._typecode).newbyteorder("="))
        if len(values) < doccount:
            values = np.concatenate([values, np.full(doccount - len(values), column._default, dtype=values.dtype)])
        return values[:doccount]
    return np.array([column[i] for i in range(doccount)])


def _length_bytes(sub, field: str) -> np.ndarray:
    """Per-document stored length bytes of one field in one segment."""
    n = sub.doc_count_all()
    perdoc = getattr(sub, "_perdoc", None)
    column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN) if hasattr(perdoc, "_cached_reader") else None
    if column is not None:
        return _column_values(column, n).astype(np.uint8)
    return np.fromiter(  # public fallback: one call per document
        (min(255, int(sub.doc_field_length(i, field, 0) or 0)) for i in range(n)), dtype=np.uint8, count=n
    )
