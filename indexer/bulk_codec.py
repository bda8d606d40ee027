"""Whoosh's W3 codec objects fed whole terms and whole columns (part of the storage adapter, for bulk segments).

``indexer.bulk_segment`` knows every posting and every document of a segment before writing it,
so the per-posting and per-document steps of Whoosh's writers are done here over lists and
arrays: a term's blocks pickled, compressed and written in one step (``TermWriter``), length
bytes and number columns packed by numpy (``write_per_document``). The bytes are those Whoosh's
own calls write: tests/test_bulk.py compares every file of a segment with Whoosh's writer's.
Like ``indexer.storage``, this module names Whoosh internals.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Mapping
from operator import sub
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import (
    COMPRESSION_MIN_SIZE,
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3FieldWriter,
    W3TermInfo,
    _lenfield,
    dumps,
)
from whoosh.columns import NumericColumn
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte


def write_per_document(codec, store, segment, schema, documents, lengths: dict[str, np.ndarray]) -> None:
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
            stored = stored_lengths(lengths[name])
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


def stored_lengths(lengths: np.ndarray) -> np.ndarray:
    """Each document's field length as Whoosh keeps it: its stored byte, decoded (0 when absent).

    What the writer counts in the field's totals and what each posting carries (a decoded byte
    encodes to itself again).
    """
    if not len(lengths):
        return lengths
    table = np.array([byte_to_length(length_to_byte(n)) if n else 0 for n in range(int(lengths.max()) + 1)])
    return table[lengths]


class TermWriter:
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
        if len(ids) == 1 and weights[0] > 0:  # most terms of key-like fields: no block loop
            self._single(btext, ids[0], weights[0], values[0] if values is not None else None, lengths)
            return
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

    def _single(self, btext: bytes, docnum: int, weight: float, value: bytes | None, lengths: list[int] | None) -> None:
        """``write`` of a term with one posting of a positive weight: the same bytes, computed without the lists.

        The bulk of a segment's terms (a key, a date, an exact title: ~85% at 100k) have one posting,
        and the block loop's list work cost more than the pickling it feeds.
        """
        start = self._postfile.tell()
        stored = array("f", (weight,))[0]  # what the block's array("f") holds
        fixed = self._fixed
        values = (value,) if value is not None else ()
        mini_values = values if fixed is None or fixed < 0 else None if fixed == 0 else b"".join(values)
        data = dumps(((docnum,), None if stored == 1.0 else stored, mini_values), 2)
        level = self._level if len(data) >= COMPRESSION_MIN_SIZE else 0
        if level:
            data = zlib.compress(data, level)
        length = lengths[0] if lengths is not None else 0
        shortest = length or None  # a zero length counts in no statistic
        info = dumps((1, docnum, weight, level, length_to_byte(shortest), length_to_byte(length)), 2)
        size = len(info) + len(data)
        chunk = b"".join((WHOOSH3_HEADER_MAGIC, pack_int(-size), info, data))
        self._postfile.write(chunk)
        short = 0 if shortest is None else length_to_byte(shortest)
        terminfo = W3TermInfo._struct.pack(False, stored, 1, short, length_to_byte(length), weight, docnum, docnum)
        self._add(self._prefix + btext, terminfo + pack_long(start) + pack_int(len(chunk)))
