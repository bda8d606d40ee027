"""Everything a searcher needs from a generation beyond Whoosh's own files, computed once.

A build computes it right after writing the generation and saves it (``indexer.persisted``), so
every process that opens the generation maps arrays instead of recomputing them; an index built
before that computes the same data in memory when it is opened (``derive(store, postings=False)``).

What it holds is what a full build of the same documents would give, however many incremental
updates the index has had: deleted versions count nowhere (live mask, facet ordinals, posting
lists of live documents only), and the collection statistics BM25 reads are live ones (a deleted
document's terms are re-analyzed from its stored text and subtracted, see ``live_statistics``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .persisted import Derived, FacetArrays, PostingTable, Strings
from .schema import FACET_FIELDS, TEXT_FIELDS, analyzed_texts
from .storage import Store


def derive(store: Store, *, postings: bool = True) -> Derived:
    """Compute a generation's derived data from its Whoosh files (``postings``: also the scored fields' lists)."""
    n = store.doc_count
    deleted = store.deleted()
    live = np.ones(n, dtype=bool)
    live[deleted] = False
    field_lengths, deleted_df = live_statistics(store, deleted)
    keys = sorted(f"{field}\x00{term}" for field, term in deleted_df)
    words = list(store.words("vocabulary"))
    return Derived(
        doc_count=n,
        live=live,
        quality=store.column("quality"),
        tiebreak=store.column("tiebreak"),
        published=store.column("published"),
        story=story_ordinals(store),
        lengths={field: store.lengths(field) for field in TEXT_FIELDS},
        field_lengths=field_lengths,
        deleted_terms=Strings.of(keys),
        deleted_counts=np.asarray([deleted_df[tuple(k.split("\x00", 1))] for k in keys], dtype=np.int64),
        facets={field: facet_arrays(store, field, live) for field in FACET_FIELDS},
        vocabulary=Strings.of(w for w, _ in words),
        vocabulary_df=np.asarray([df - deleted_df.get(("vocabulary", w), 0) for w, df in words], dtype=np.int64),
        postings={field: posting_table(store, field, live) for field in TEXT_FIELDS} if postings else {},
    )


def live_statistics(store: Store, deleted: np.ndarray) -> tuple[dict[str, int], Counter]:
    """(live total length of each scorable field, deleted documents per (field, term)).

    Whoosh keeps a deleted document in its segment's statistics until the segment is merged away;
    subtracting what the deleted documents contributed (re-analyzed from their stored text, by the
    field table) gives the statistics of a full build of the live documents.
    """
    scorable = store.scorable_fields()
    lengths = {name: store.field_length(name) for name in scorable}
    deleted_df: Counter = Counter()
    for docnum in deleted.tolist():
        stored = store.stored(docnum)
        for name in scorable:
            lengths[name] -= store.doc_field_length(docnum, name)
        for name, text in analyzed_texts(stored).items():
            for term in store.analyzed(name, text):
                deleted_df[(name, term)] += 1
    return lengths, deleted_df


def story_ordinals(store: Store) -> np.ndarray:
    """Per-document story ordinal from the story hash column (each item alone in older indexes)."""
    if "story_hash" not in store.field_names():
        return np.arange(store.doc_count, dtype=np.int32)
    _, ordinals = np.unique(store.column("story_hash"), return_inverse=True)
    return ordinals.astype(np.int32)


def facet_arrays(store: Store, field: str, live: np.ndarray) -> FacetArrays:
    """A facet field's posting lists as (document, value ordinal) pairs of live documents.

    A value held only by replaced or removed versions is left out, as a full build would.
    """
    values: list[str] = []
    id_chunks: list[np.ndarray] = []
    ord_chunks: list[np.ndarray] = []
    for value, _frequency in store.words(field):
        ids = store.postings(field, value)[0].astype(np.int32)
        ids = ids[live[ids]]
        if len(ids) == 0:
            continue
        id_chunks.append(ids)
        ord_chunks.append(np.full(len(ids), len(values), dtype=np.int32))
        values.append(value)
    doc_ids = np.concatenate(id_chunks) if id_chunks else np.zeros(0, np.int32)
    ords = np.concatenate(ord_chunks) if ord_chunks else np.zeros(0, np.int32)
    doc_ord = None
    if len(np.unique(doc_ids)) == len(doc_ids):
        # single-valued (provider, year, kind): counting gathers only the matching documents
        doc_ord = np.full(store.doc_count, len(values), dtype=np.int32)
        doc_ord[doc_ids] = ords
    return FacetArrays(values, doc_ids, ords, doc_ord)


def posting_table(store: Store, field: str, live: np.ndarray) -> PostingTable:
    """Every term's posting list of live documents, one after another (terms without any left out)."""
    terms: list[str] = []
    starts = [0]
    id_chunks: list[np.ndarray] = []
    tf_chunks: list[np.ndarray] = []
    for term, _frequency in store.words(field):
        ids, tfs = store.postings(field, term)
        keep = live[ids]
        ids, tfs = ids[keep], tfs[keep]
        if len(ids) == 0:
            continue
        terms.append(term)
        id_chunks.append(ids.astype(np.int32))
        tf_chunks.append(tfs.astype(np.float64))
        starts.append(starts[-1] + len(ids))
    return PostingTable(
        Strings.of(terms),
        np.asarray(starts, dtype=np.int64),
        np.concatenate(id_chunks) if id_chunks else np.zeros(0, np.int32),
        np.concatenate(tf_chunks) if tf_chunks else np.zeros(0),
    )
