"""Bulk writing: one ordinary Whoosh segment from many documents at once (part of the storage adapter).

Whoosh's writer analyzes document by document through its filter chain, pools every posting as a
Python tuple and sorts the pool: about 500 documents/s per core. Here the text fields are analyzed
in batches (``indexer.batch_analysis``: each distinct word through the field's own analyzer once),
postings are assembled and sorted as numpy arrays, and the segment is written through Whoosh's own
codec objects: its per-document writer (stored fields, lengths, columns: the calls ``add_document``
makes, in its order) and its field writer, whose posting writer receives whole blocks instead of
one posting at a time. The result is the segment Whoosh would have written for the same documents
in one writer, byte for byte (tests/test_bulk.py compares the files), and Whoosh's reader opens it.

Like ``indexer.storage``, this module names Whoosh internals (``check_whoosh`` guards the version).
"""

from __future__ import annotations

import random
import shutil
import zlib
from array import array
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from operator import sub
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import formats
from whoosh.analysis import IDTokenizer
from whoosh.codec import default_codec
from whoosh.codec.whoosh3 import (
    COMPRESSION_MIN_SIZE,
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3FieldWriter,
    W3Segment,
    W3TermInfo,
    _lenfield,
    dumps,
)
from whoosh.columns import NumericColumn
from whoosh.fields import ID
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC
from whoosh.index import open_dir as whoosh_open_dir
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

from . import storage
from .batch_analysis import FieldTerms, batchable

INDEX_NAME = "MAIN"  # Whoosh's default index name (whoosh.index._DEF_INDEX_NAME)
BATCH_DOCS = 5_000  # documents analyzed per batch: bounds the word lists held at once
# (term bytes, document numbers, weights, encoded values: None when every value is empty)
Postings = tuple[bytes, list[int], list[float], list[bytes] | None]


def new_segment_id() -> str:
    """A fresh segment id (Whoosh's own generator); taken in the parent, so forked workers never share one."""
    return W3Segment._random_id()


def write_segment(path: Path, schema, documents: Sequence[Mapping[str, Any]], segment_id: str) -> W3Segment:
    """Write ``documents`` (``add_document`` keyword arguments) as one segment of the index at ``path``.

    The segment is not listed in the index until ``publish`` names it.
    """
    storage.install_fixes()  # the stored-length correction applies to these writers too
    random.seed()  # Whoosh names temporary files randomly; forked workers must not share the sequence
    store = FileStorage(str(path))
    codec = default_codec()
    segment = W3Segment(codec, INDEX_NAME, segid=segment_id)
    for fields in documents:
        extra = [name for name in fields if name.startswith("_") and not name.startswith("_stored_")]
        if extra:
            raise ValueError(f"bulk segments take no boosts ({extra})")
    indexed = [name for name in sorted(schema.names()) if schema[name].indexed]
    postings: dict[str, Iterator[Postings] | None] = {}
    lengths: dict[str, np.ndarray] = {}
    for name in indexed:
        field = schema[name]
        if field.vector or field.separate_spelling():
            raise ValueError(f"bulk segments write no vectors or spelling words ({name})")
        if batchable(field.analyzer) and type(field.format) in (formats.Positions, formats.Frequency):
            postings[name], lengths[name] = _text_postings(field, [d.get(name) for d in documents])
        else:
            postings[name], lengths[name] = _value_postings(field, [d.get(name) for d in documents])
    _write_per_document(codec, store, segment, schema, documents, lengths)
    writer = codec.field_writer(store, segment)
    for name in indexed:
        field = schema[name]
        length_of = _posting_lengths(lengths[name]) if field.scorable else None
        terms: _TermWriter | None = None
        for btext, ids, weights, values in postings[name]:
            if terms is None:
                writer.start_field(name, field)
                terms = _TermWriter(writer, field)
            terms.write(btext, ids, weights, values, [length_of[i] for i in ids] if length_of is not None else None)
        if terms is not None:
            writer.finish_field()
    writer.close()
    segment.set_doc_count(len(documents))
    if segment.should_assemble():
        segment.create_compound_file(store)
    return segment


def publish(path: Path, schema, segments: list[W3Segment]) -> None:
    """List ``segments`` in the index at ``path`` (a new table of contents, as a writer's commit does)."""
    store = FileStorage(str(path))
    generation = whoosh_open_dir(str(path)).latest_generation() + 1
    TOC(schema, segments, generation).write(store, INDEX_NAME)
    shutil.rmtree(Path(path) / f"{INDEX_NAME}.tmp", ignore_errors=True)  # the per-document writers' scratch


def _write_per_document(codec, store, segment, schema, documents, lengths: dict[str, np.ndarray]) -> None:
    """Stored fields, length bytes and columns: what add_document's calls to the per-document writer write.

    Each document's stored fields are pickled as ``finish_doc`` does; the length and value columns
    are filled a column at a time (numbers packed by numpy), created in the order add_document
    would first create them, and the field totals are the stored lengths' (``whoosh_fixes``).
    """
    writer = codec.per_document_writer(store, segment)
    count = len(documents)
    names = sorted(schema.names())
    fields = {name: schema[name] for name in names}
    add_stored = writer._get_column("_stored").add
    stored_names = [name for name in names if fields[name].stored]
    for docnum, doc in enumerate(documents):
        kept = {}
        for name in stored_names:
            value = doc.get(name)
            if value is not None:
                custom = doc.get(f"_stored_{name}", value)
                if custom is not None:
                    kept[name] = custom
        if kept:
            add_stored(docnum, kept)
    # (first document, field name, length before value) -> column name, type, values (None: absent)
    columns: list[tuple[tuple[int, str, int], str, Any, list]] = []
    totals: dict[str, int] = {}
    for name in names:
        if fields[name].scorable and name in lengths:
            stored = _stored_lengths(lengths[name])
            present = np.flatnonzero(stored)
            if len(present):
                bytes_of = [None if not n else length_to_byte(n) for n in stored.tolist()]
                columns.append(((int(present[0]), name, 0), _lenfield(name), LENGTHS_COLUMN, bytes_of))
                totals[name] = int(stored.sum())
        column = fields[name].column_type
        if column:
            values = [_column_value(fields[name], doc, name) for doc in documents]
            first = next((i for i, v in enumerate(values) if v is not None), None)
            if first is not None:
                columns.append(((first, name, 1), name, column, values))
    totals = {name: totals[name] for _, name in sorted((key, key[1]) for key, *_ in columns if not key[2])}
    for _, column_name, column, values in sorted(columns, key=lambda c: c[0]):
        writer._create_column(column_name, column)
        _fill_column(writer._get_column(column_name), column, values)
    writer._fieldlengths.update(totals)
    writer._doccount = count
    writer.close()


def _column_value(field, doc: Mapping[str, Any], name: str) -> Any:
    if doc.get(name) is None:
        return None
    custom = doc.get(f"_stored_{name}", doc[name])
    return None if custom is None else field.to_column_value(custom)


def _fill_column(writer, kind, values: list) -> None:
    """Each document's value (None: none) through a column writer, as add_column_value would, in order.

    A numeric column is written at once: its file is each document's packed number (the default
    where it has none) up to the last document whose number is not the default.
    """
    code = getattr(kind, "_typecode", "") if type(kind) is NumericColumn else ""
    if code and code in "bBhHiIqQ" and np.dtype(">" + code).itemsize == writer._fixedlen:
        dtype = np.dtype(">" + code)  # struct's "!" + code: big-endian, standard sizes
        default = writer._default
        numbers = np.array([default if v is None else v for v in values], dtype=dtype)
        written = np.flatnonzero(numbers != np.array(default, dtype=dtype))
        if len(written):
            end = int(written[-1]) + 1
            writer._dbfile.write(numbers[:end].tobytes())
            writer._count = end
        return
    for docnum, value in enumerate(values):
        if value is not None:
            writer.add(docnum, value)


def _stored_lengths(lengths: np.ndarray) -> np.ndarray:
    """Each document's field length as the fixed writer counts it: its stored byte, decoded (0 when absent)."""
    if not len(lengths):
        return lengths
    table = np.array([byte_to_length(length_to_byte(n)) if n else 0 for n in range(int(lengths.max()) + 1)])
    return table[lengths]


def _posting_lengths(lengths: np.ndarray) -> list[int]:
    """Each document's field length as a posting carries it: the stored byte, decoded (0 when absent)."""
    out = []
    for length in lengths.tolist():
        byte = length_to_byte(byte_to_length(length_to_byte(length))) if length else 0  # stored as W3 stores it
        out.append(byte_to_length(byte) if byte else 0)
    return out


def _text_postings(field, values: list) -> tuple[Iterator[Postings], np.ndarray]:
    """Postings of an analyzed text field, assembled and sorted as arrays."""
    terms = FieldTerms(field.analyzer)
    parts = []
    for start in range(0, len(values), BATCH_DOCS):
        texts = values[start : start + BATCH_DOCS]
        if any(v is not None and not isinstance(v, str) for v in texts):
            raise ValueError(f"field {field!r} takes text in a bulk segment")
        batch = terms.analyze([v or "" for v in texts])
        parts.append((batch.docs + start, batch.positions, batch.terms, batch.lengths))
    if not parts:
        empty = np.zeros(0, np.int32)
        parts.append((empty, empty, empty, np.zeros(0, np.int64)))
    docs, positions, term_ids, lengths = (np.concatenate(p) for p in zip(*parts, strict=True))
    return _sorted_postings(field, terms.terms, docs, positions, term_ids), lengths


def _sorted_postings(field, terms: list[str], docs, positions, term_ids) -> Iterator[Postings]:
    """A field's postings in Whoosh's order (term bytes, then document), built as the field is written.

    A generator: the per-posting lists of one field are held at a time, never every field's at once.
    """
    btexts = [t.encode("utf-8") for t in terms]
    rank = np.empty(len(btexts), dtype=np.int64)
    rank[sorted(range(len(btexts)), key=btexts.__getitem__)] = np.arange(len(btexts))  # byte order, as Whoosh
    by_term = rank[term_ids] if len(term_ids) else np.zeros(0, np.int64)
    order = np.argsort(by_term, kind="stable")  # rows are in (document, position) order already
    keys, docs, positions = by_term[order], docs[order], positions[order]
    if not len(keys):
        return
    new = np.ones(len(keys), dtype=bool)
    new[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
    starts = np.flatnonzero(new)  # one posting per (term, document)
    freqs = np.diff(np.append(starts, len(keys)))
    post_keys, post_docs = keys[starts], docs[starts]
    fmt = field.format
    weights = (freqs.astype(np.float64) * fmt.field_boost).tolist()
    if isinstance(fmt, formats.Positions):
        table = np.array([None] + [fmt.encode([p]) for p in range(int(positions.max()) + 1)], dtype=object)[1:]
        values = table[positions[starts]]
        cache: dict[tuple[int, ...], bytes] = {}
        for j in np.flatnonzero(freqs > 1).tolist():
            run = tuple(positions[starts[j] : starts[j] + freqs[j]].tolist())
            found = cache.get(run)
            if found is None:
                found = cache[run] = fmt.encode(list(run))
            values[j] = found
    else:  # Frequency: the frequency, packed
        table = np.array([None] + [pack_uint(f) for f in range(1, int(freqs.max()) + 1)], dtype=object)
        values = table[freqs]
    # one object per posting, as the per-document writer has: pickle writes a repeated object as a
    # back-reference, so values shared through the tables above would change the block bytes
    values_list = list(map(bytes, map(bytearray, values.tolist())))
    docs_list = post_docs.tolist()
    term_starts = [*np.flatnonzero(np.diff(post_keys, prepend=-1)).tolist(), len(post_keys)]
    sorted_btexts = [btexts[i] for i in np.argsort(rank).tolist()]
    for a, b in pairwise(term_starts):
        yield sorted_btexts[post_keys[a]], docs_list[a:b], weights[a:b], values_list[a:b]


def _value_postings(field, values: list) -> tuple[Iterator[Postings], np.ndarray]:
    """Postings of any other indexed field, from the field's own ``index`` (remembered per value)."""
    found: dict[bytes, list] = defaultdict(list)
    lengths = np.zeros(len(values), dtype=np.int64)
    seen: dict[Any, list] = {}
    # an ID field indexes its whole value as one term (IDTokenizer, Existence): no analyzer call per value
    plain_id = type(field) is ID and type(field.analyzer) is IDTokenizer and type(field.format) is formats.Existence
    for docnum, value in enumerate(values):
        if value is None:
            continue
        try:
            items = seen.get(value)
        except TypeError:  # a list of values: not hashable, not remembered
            items = None
        if items is None:
            if plain_id and type(value) is str:  # what field.index gives: the value itself, once
                items = [(value.encode("utf-8"), 1, field.format.field_boost, b"")]
            else:
                items = list(field.index(value))
            if not isinstance(value, list):
                seen[value] = items
        for btext, freq, weight, vbytes in items:
            found[btext].append((docnum, weight * 1.0, vbytes))  # add_document multiplies by the field boost
            if field.scorable:
                lengths[docnum] += freq

    def rows() -> Iterator[Postings]:
        for btext in sorted(found):
            docs, weights, vals = zip(*found[btext], strict=True)
            if any(vals) and not all(vals):  # blocks would not line up with their values; no format does this
                raise ValueError(f"{field!r} gave empty and non-empty posting values")
            yield btext, list(docs), list(weights), list(vals) if any(vals) else None

    return rows(), lengths


class _TermWriter:
    """What Whoosh's ``start_term``, ``add_posting`` (block by block) and ``finish_term`` write, a whole term at once.

    ``W3PostingsWriter._write_block`` and ``W3TermInfo`` fused for a term whose postings are all
    known: the same block tuples, pickles, compression and block and term statistics, computed over
    lists instead of one posting at a time, and the term's blocks written in one call.
    tests/test_bulk.py compares the files with Whoosh's writer's, byte for byte.
    """

    def __init__(self, writer: W3FieldWriter, field) -> None:
        postings = writer._postwriter
        if postings._inlinelimit > 1 or postings._byteids:  # inlined postings: not written here
            raise ValueError("bulk segments expect Whoosh's default posting writer")
        self._postfile = writer._postfile
        self._add = writer._tindex.add
        self._prefix = pack_ushort(writer._fieldid)
        self._limit = postings._blocklimit
        self._level = postings._compression
        self._fixed = field.format.fixed_value_size()

    def write(
        self, btext: bytes, ids: list[int], weights: list[float], values: list[bytes] | None, lengths: list[int] | None
    ) -> None:
        """A term's postings (document order; ``lengths``: each posting's field length, None for none)."""
        start = self._postfile.tell()
        parts = [WHOOSH3_HEADER_MAGIC]
        count, limit, fixed = len(ids), self._limit, self._fixed
        total: float = 0
        minlength: int | None = None
        maxlength = maxweight = 0
        for a in range(0, count, limit):
            b = min(a + limit, count)
            block = ids[a:b] if count > limit else ids
            block_weights = weights[a:b] if count > limit else weights
            stored = array("f", block_weights).tolist()  # what the block's array("f") holds
            # _mini_ids, _mini_weights, _mini_values
            deltas = tuple(map(sub, block, [0, *block[:-1]]))
            if stored.count(1.0) == len(stored):
                mini_weights = None
            elif stored.count(stored[0]) == len(stored):
                mini_weights = stored[0]
            else:
                mini_weights = tuple(stored)
            block_values = (values[a:b] if count > limit else values) if values is not None else []
            mini_values = (
                tuple(block_values) if fixed is None or fixed < 0 else None if fixed == 0 else b"".join(block_values)
            )
            data = dumps((deltas, mini_weights, mini_values), 2)
            level = self._level if len(data) >= COMPRESSION_MIN_SIZE else 0
            if level:
                data = zlib.compress(data, level)
            # the block's statistics, as add_posting keeps them (lengths: only the non-zero ones)
            heaviest = max(block_weights)
            heaviest = heaviest if heaviest > 0 else 0
            shortest, longest = None, 0
            if lengths is not None:
                block_lengths = lengths[a:b] if count > limit else lengths
                shortest, longest = min(block_lengths), max(block_lengths)
                if not shortest:
                    shortest = min([n for n in block_lengths if n], default=None)
            info = dumps((len(block), block[-1], heaviest, level, length_to_byte(shortest), length_to_byte(longest)), 2)
            size = len(info) + len(data)
            parts += (pack_int(-size if b == count else size), info, data)
            # W3TermInfo.add_block
            total += sum(stored)
            minlength = shortest if minlength is None else min(minlength, shortest)  # type: ignore[type-var]
            maxlength = max(maxlength, longest)
            maxweight = max(maxweight, heaviest)
        chunk = b"".join(parts)
        self._postfile.write(chunk)
        short = 0 if minlength is None else length_to_byte(minlength)
        info = W3TermInfo._struct.pack(
            False, total, count, short, length_to_byte(maxlength), maxweight, ids[0], ids[-1]
        )
        self._add(self._prefix + btext, info + pack_long(start) + pack_int(len(chunk)))
