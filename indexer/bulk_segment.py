"""Bulk writing: one ordinary Whoosh segment from many documents at once (part of the storage adapter).

Whoosh's writer analyzes document by document through its filter chain, pools every posting as a
Python tuple and sorts the pool: about 500 documents/s per core. Here the text fields are analyzed
in batches (``indexer.batch_analysis``: each distinct word through the field's own analyzer once),
postings are assembled and sorted as numpy arrays, and the segment is written through Whoosh's own
codec objects: its per-document writer (stored fields, lengths, columns: what ``add_document``
writes, a column at a time) and its field writer, fed whole terms instead of one posting at a time
(``indexer.bulk_codec``). The result is the segment Whoosh would have written for the same documents
in one writer, byte for byte (tests/test_bulk.py compares the files), and Whoosh's reader opens it.

Like ``indexer.storage``, this module names Whoosh internals (``check_whoosh`` guards the version).
"""

from __future__ import annotations

import random
import shutil
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from functools import partial
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import formats
from whoosh.analysis import IDTokenizer
from whoosh.codec import default_codec
from whoosh.codec.whoosh3 import W3Segment
from whoosh.fields import ID
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, clean_files
from whoosh.index import open_dir as whoosh_open_dir
from whoosh.reading import SegmentReader
from whoosh.system import pack_uint

from . import storage
from .batch_analysis import FieldTerms, batchable
from .bulk_codec import TermWriter, stored_lengths, write_per_document
from .tables import PostingTable, Strings, Written

INDEX_NAME = "MAIN"  # Whoosh's default index name (whoosh.index._DEF_INDEX_NAME)
BATCH_DOCS = 5_000  # documents analyzed per batch: bounds the word lists held at once
# (term bytes, document numbers, weights, encoded values: None when every value is empty)
Postings = tuple[bytes, list[int], list[float], list[bytes] | None]


def new_segment_id() -> str:
    """A fresh segment id (Whoosh's own generator); taken in the parent, so forked workers never share one."""
    return W3Segment._random_id()


def write_segment(
    path: Path, schema, documents: Sequence[Mapping[str, Any]], segment_id: str, tables: Collection[str] = ()
) -> tuple[W3Segment, dict[str, PostingTable]]:
    """Write ``documents`` (``add_document`` keyword arguments) as one segment of the index at ``path``.

    Returns the segment, not listed in the index until ``publish`` names it, and the posting
    tables of the analyzed text fields named in ``tables`` as written (what ``indexer.derive``
    would otherwise read back through Whoosh's reader).
    """
    storage.install_fixes()  # the stored-length correction applies to these writers too
    random.seed()  # Whoosh names temporary files randomly; forked workers must not share the sequence
    store = FileStorage(str(path))
    codec = default_codec()
    segment = W3Segment(codec, INDEX_NAME, segid=segment_id)
    given = set().union(*documents)  # every argument name once: a check per name, not per document and name
    extra = sorted(name for name in given if name.startswith("_") and not name.startswith("_stored_"))
    if extra:
        raise ValueError(f"bulk segments take no boosts ({extra})")
    indexed = [name for name in sorted(schema.names()) if schema[name].indexed]
    postings: dict[str, Iterator[Postings] | None] = {}
    lengths: dict[str, np.ndarray] = {}
    held: dict[str, PostingTable] = {}
    for name in indexed:
        field = schema[name]
        if field.vector or field.separate_spelling():
            raise ValueError(f"bulk segments write no vectors or spelling words ({name})")
        if batchable(field.analyzer) and type(field.format) in (formats.Positions, formats.Frequency):
            keep = partial(held.__setitem__, name) if name in tables else None
            postings[name], lengths[name] = _text_postings(field, [d.get(name) for d in documents], keep)
        else:
            postings[name], lengths[name] = _value_postings(field, [d.get(name) for d in documents])
    write_per_document(codec, store, segment, schema, documents, lengths)
    writer = codec.field_writer(store, segment)
    for name in indexed:
        field = schema[name]
        length_of = stored_lengths(lengths[name]).tolist() if field.scorable else None
        terms: TermWriter | None = None
        for btext, ids, weights, values in postings[name]:
            if terms is None:
                writer.start_field(name, field)
                terms = TermWriter(writer, field)
            terms.write(btext, ids, weights, values, [length_of[i] for i in ids] if length_of is not None else None)
        if terms is not None:
            writer.finish_field()
    writer.close()
    segment.set_doc_count(len(documents))
    if segment.should_assemble():
        segment.create_compound_file(store)
    return segment, held


def append_segment(
    path: Path,
    documents: Sequence[Mapping[str, Any]],
    deleted: Iterable[int],
    tables: Collection[str],
    *,
    merged: Callable[[list], int],
    restore: Callable[[Mapping[str, Any]], Mapping[str, Any] | None],
) -> Written | None:
    """An update's commit without Whoosh's writer: ``deleted`` (document numbers) marked, ``documents`` appended.

    What ``writer.delete_document`` for each, ``add_document`` for each and ``commit`` leave: the other
    segments with their deletions and the new segment (``write_segment``: Whoosh's bytes), in a new
    table of contents that supersedes the old one, whose files are removed. ``merged`` (given the
    segments) says how many trailing segments the new one takes in: their live documents follow
    ``documents``, in order, as Whoosh's ``add_reader`` places them, written anew from their stored
    fields (``restore``) instead of re-pooled posting by posting. None, with nothing written, when a
    document cannot be restored: Whoosh's writer does the update then. Returns the new segment's
    posting tables of the fields in ``tables``, by segment id.
    """
    store = FileStorage(str(path))
    toc = TOC.read(store, INDEX_NAME)
    segments = list(toc.segments)
    offsets = [0, *accumulate(segment.doc_count_all() for segment in segments)]
    for docnum in deleted:
        if not 0 <= docnum < offsets[-1]:
            raise ValueError(f"no document {docnum} in {path}")
        place = bisect_right(offsets, docnum) - 1
        segments[place].delete_document(docnum - offsets[place])
    kept = segments[: len(segments) - merged(segments)]
    documents = list(documents)
    for segment in segments[len(kept) :]:
        reader = SegmentReader(store, toc.schema, segment)
        try:
            for _docnum, stored in reader.iter_docs():  # the live ones, in order
                fields = restore(stored)
                if fields is None:
                    return None
                documents.append(fields)
        finally:
            reader.close()
    segment, held = write_segment(path, toc.schema, documents, new_segment_id(), tables)
    final = [*kept, segment]
    publish(path, toc.schema, final, toc.generation + 1)
    clean_files(store, INDEX_NAME, toc.generation + 1, final)  # the superseded table of contents, merged segments
    return {segment.segment_id(): held}


def publish(path: Path, schema, segments: list[W3Segment], generation: int | None = None) -> None:
    """List ``segments`` in the index at ``path`` (a new table of contents, as a writer's commit does).

    ``generation``: the table of contents' number, when the caller has read the current one (else the next).
    """
    store = FileStorage(str(path))
    if generation is None:
        generation = whoosh_open_dir(str(path)).latest_generation() + 1
    TOC(schema, segments, generation).write(store, INDEX_NAME)
    shutil.rmtree(Path(path) / f"{INDEX_NAME}.tmp", ignore_errors=True)  # the per-document writers' scratch


def _text_postings(
    field, values: list, keep: Callable[[PostingTable], None] | None = None
) -> tuple[Iterator[Postings], np.ndarray]:
    """Postings of an analyzed text field, assembled and sorted as arrays (``keep`` is handed their table)."""
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
    return _sorted_postings(field, terms.terms, docs, positions, term_ids, keep), lengths


def _sorted_postings(
    field, terms: list[str], docs, positions, term_ids, keep: Callable[[PostingTable], None] | None
) -> Iterator[Postings]:
    """A field's postings in Whoosh's order (term bytes, then document), built as the field is written.

    A generator: the per-posting lists of one field are held at a time, never every field's at once.
    ``keep``, if given, receives the field's posting table (the numbers Whoosh's reader would give).
    """
    btexts = [t.encode("utf-8") for t in terms]
    rank = np.empty(len(btexts), dtype=np.int64)
    rank[sorted(range(len(btexts)), key=btexts.__getitem__)] = np.arange(len(btexts))  # byte order, as Whoosh
    by_term = rank[term_ids] if len(term_ids) else np.zeros(0, np.int64)
    order = np.argsort(by_term, kind="stable")  # rows are in (document, position) order already
    keys, docs, positions = by_term[order], docs[order], positions[order]
    if not len(keys):
        if keep is not None:
            keep(PostingTable(Strings.of_bytes([]), np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0)))
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
    if keep is not None:  # weights as the blocks store them: float32 (array "f")
        tfs = (freqs * fmt.field_boost).astype(np.float32).astype(np.float64)
        present = [sorted_btexts[k] for k in post_keys[term_starts[:-1]].tolist()]
        starts = np.asarray(term_starts, np.int64)
        keep(PostingTable(Strings.of_bytes(present), starts, post_docs.astype(np.int32), tfs))
    for a, b in pairwise(term_starts):
        yield sorted_btexts[post_keys[a]], docs_list[a:b], weights[a:b], values_list[a:b]


def _value_postings(field, values: list) -> tuple[Iterator[Postings], np.ndarray]:
    """Postings of any other indexed field, from the field's own ``index`` once per distinct value.

    Documents are grouped by value first, so a term's postings are whole lists of documents (one per
    value giving the term), never one Python tuple per posting.
    """
    groups: dict[Any, list[int]] = {}  # a value -> the documents holding it
    for docnum, value in enumerate(values):
        if value is None:
            continue
        try:
            docs = groups.get(value)
        except TypeError:  # a list of values: not hashable, a group of its own
            groups[_Unhashable(value)] = [docnum]
            continue
        if docs is None:
            groups[value] = [docnum]
        else:
            docs.append(docnum)
    # an ID field indexes its whole value as one term (IDTokenizer, Existence): no analyzer call per value
    plain_id = type(field) is ID and type(field.analyzer) is IDTokenizer and type(field.format) is formats.Existence
    found: dict[bytes, list[tuple[list[int], float, bytes]]] = defaultdict(list)
    lengths = np.zeros(len(values), dtype=np.int64)
    for value, docs in groups.items():
        value = value.value if type(value) is _Unhashable else value
        if plain_id and type(value) is str:  # what field.index gives: the value itself, once
            items = [(value.encode("utf-8"), 1, field.format.field_boost, b"")]
        else:
            items = list(field.index(value))
        for btext, _freq, weight, vbytes in items:
            found[btext].append((docs, weight * 1.0, vbytes))  # add_document multiplies by the field boost
        if field.scorable and items:
            lengths[docs] += sum(freq for _, freq, _, _ in items)  # a group's documents are distinct

    def rows() -> Iterator[Postings]:
        for btext in sorted(found):
            parts = found[btext]
            vals = [vbytes for _, _, vbytes in parts]
            if any(vals) and not all(vals):  # blocks would not line up with their values; no format does this
                raise ValueError(f"{field!r} gave empty and non-empty posting values")
            if len(parts) == 1:
                docs, weight, vbytes = parts[0]
                yield btext, docs, [weight] * len(docs), [vbytes] * len(docs) if vbytes else None
                continue
            docs = np.concatenate([np.asarray(d, dtype=np.int64) for d, _, _ in parts])
            order = np.argsort(docs, kind="stable")  # each part ascending: documents in order, parts in order on a tie
            which = np.repeat(np.arange(len(parts)), [len(d) for d, _, _ in parts])[order]
            weights = np.asarray([w for _, w, _ in parts], dtype=np.float64)[which].tolist()
            kept = np.empty(len(parts), dtype=object)
            kept[:] = vals  # the very objects (pickle writes a repeated one as a back-reference)
            yield btext, docs[order].tolist(), weights, kept[which].tolist() if any(vals) else None

    return rows(), lengths


class _Unhashable:
    """A value that cannot key a dict (a list): its own group, by identity."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value
