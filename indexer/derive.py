"""Everything a searcher needs from a generation beyond Whoosh's own files, computed once.

A build computes it right after writing the generation and saves it (``indexer.persisted``), so
every process that opens the generation maps arrays instead of recomputing them; an index built
before that computes the same data in memory when it is opened (``derive(store, postings=False)``).

What it holds is what a full build of the same documents would give, however many incremental
updates the index has had: deleted versions count nowhere (live mask, facet ordinals, posting
lists of live documents only), and the collection statistics BM25 reads are live ones (a deleted
document's terms are re-analyzed from its stored text and subtracted, see ``indexer.replaced``).
An update carries the generation it follows over instead of deriving it again (``indexer.carry``).
"""

from __future__ import annotations

import numpy as np

from . import carry, stories
from .persisted import Derived, FacetArrays
from .replaced import Followed, live_statistics
from .schema import DAY_US, EPOCH_US, FACET_FIELDS, TEXT_FIELDS
from .storage import Store
from .tables import PostingTable, Strings, Written, frequencies

__all__ = ["Followed", "derive", "live_statistics"]


def derive(
    store: Store,
    *,
    postings: bool = True,
    previous: stories.Previous | None = None,
    changed: np.ndarray | None = None,
    followed: Followed | None = None,
    written: Written | None = None,
) -> Derived:
    """Compute a generation's derived data from its Whoosh files.

    With ``postings`` (a build), also the scored fields' posting lists (``posting_tables``). With
    ``previous`` (an update), the stories of the generation it follows and ``changed`` (the key
    hashes of the items it added, changed or removed): only their linked groups are clustered again;
    with ``followed``, what that generation's deleted documents held is taken over (``live_statistics``);
    ``written``, segments' posting tables as the bulk writer held them (not read back through Whoosh).
    """
    n = store.doc_count
    deleted = store.deleted()
    live = np.ones(n, dtype=bool)
    live[deleted] = False
    docs = followed.doc_map(store, live, changed) if followed is not None else None
    field_lengths, deleted_df = live_statistics(store, deleted, followed, docs)
    keys = sorted(f"{field}\x00{term}" for field, term in deleted_df)
    if docs is not None and (not postings or set(TEXT_FIELDS) <= set(followed.derived.postings)):
        # an update: what the followed generation derived, carried over (``indexer.carry``)
        before = followed.derived
        delta = carry.segment_words(store, [position for position, _ in docs.added], "vocabulary")
        delta.subtract(carry.segment_words(followed.store, docs.removed, "vocabulary"))
        vocabulary, vocabulary_df = carry.vocabulary(
            before.vocabulary, before.vocabulary_df, followed.deleted_df, deleted_df, delta
        )
        fresh = docs.fresh(live)  # the new segments' documents the followed generation had no place for
        facets = {field: carried_facet(store, field, before.facets[field], docs, live, fresh) for field in FACET_FIELDS}
        tables = {}
        if postings:
            ids = [segment_id for segment_id, _ in store.segments()]
            for field in TEXT_FIELDS:
                added = merge_live(
                    [(offset, held_table(store, p, ids[p], field, written)) for p, offset in docs.added], fresh
                )
                tables[field] = carry.posting_table(before.postings[field], docs, live, added)
    else:
        words = list(store.words("vocabulary"))
        vocabulary = Strings.of(w for w, _ in words)
        vocabulary_df = np.asarray([df - deleted_df.get(("vocabulary", w), 0) for w, df in words], dtype=np.int64)
        facets = {field: facet_arrays(store, field, live) for field in FACET_FIELDS}
        tables = posting_tables(store, live, written=written) if postings else {}
    published = store.column("published")
    days, months = calendar(published)
    found = event_stories(store, live, published, tables, previous, changed)
    return Derived(
        doc_count=n,
        live=live,
        quality=np.maximum(store.column("quality"), -1),  # any negative quality is none: -1, as persisted says
        tiebreak=store.column("tiebreak"),
        published=published,
        days=days,
        months=months,
        key_hash=found[0],
        story=found[1].story,
        group=found[1].group,
        stories_mode=found[1].mode,
        lengths={field: store.lengths(field) for field in TEXT_FIELDS},
        field_lengths=field_lengths,
        deleted_terms=Strings.of(keys),
        deleted_counts=np.asarray([deleted_df[tuple(k.split("\x00", 1))] for k in keys], dtype=np.int64),
        facets=facets,
        vocabulary=vocabulary,
        vocabulary_df=vocabulary_df,
        postings=tables,
    )


def calendar(published: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-document days since 1970-01-01 and months since 1970-01 (0 where undated: ``published`` < 0).

    ``published`` holds Whoosh datetime longs (microseconds since 0001-01-01); the coverage
    timeline counts these numbers (``search.timeline.Calendar``).
    """
    dated = published >= 0
    days = np.where(dated, (published - EPOCH_US) // DAY_US, 0)
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return days, months


def event_stories(
    store: Store,
    live: np.ndarray,
    published: np.ndarray,
    tables: dict[str, PostingTable],
    previous: stories.Previous | None,
    changed: np.ndarray | None,
) -> tuple[np.ndarray, stories.Stories]:
    """(every item's key hash, the stories of the live items): see ``indexer.stories``."""
    n = store.doc_count
    if "key_hash" not in store.field_names():  # an index older than event stories: each item alone
        alone = np.arange(n, dtype=np.int32)
        return np.zeros(n, dtype=np.int64), stories.Stories(alone, alone)
    if not {"title", "excerpt"} <= set(tables):  # an open without the build's tables: computed here, not kept
        tables = posting_tables(store, live, ("title", "excerpt"))
    if previous is not None and changed is not None:
        return store.column("key_hash"), stories.update(store, live, published, tables, previous, changed)
    return store.column("key_hash"), stories.full(store, live, published, tables)


def carried_facet(
    store: Store, field: str, before: FacetArrays, docs: carry.DocMap, live: np.ndarray, fresh: np.ndarray
) -> FacetArrays:
    """A facet's arrays taken over from the followed generation, with the values of the ``fresh`` documents."""
    added = []
    for position, offset in docs.added:
        for value, ids, _tfs in store.segment_postings(position, field):
            ids = ids.astype(np.int64) + offset
            added.append((value, ids[fresh[ids]]))
    values, doc_ids, ords, layers = carry.facet_arrays(before, docs, live, added)
    if layers is None:
        layers = facet_layers(doc_ids, ords, store.doc_count, len(values))
    return FacetArrays(values, doc_ids, ords, layers)


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
    return FacetArrays(values, doc_ids, ords, facet_layers(doc_ids, ords, store.doc_count, len(values)))


def facet_layers(doc_ids: np.ndarray, ords: np.ndarray, doc_count: int, none: int) -> np.ndarray:
    """Per-document value ordinals in layers: row k holds each document's k-th value (``none``: no k-th).

    Counting the values of some documents is then one gather and ``bincount`` per row (one row for
    single-valued fields, a few for topics), instead of a gather over every (document, value) pair.
    """
    order = np.lexsort((ords, doc_ids))
    docs = doc_ids[order]
    rank = np.arange(len(docs)) - np.searchsorted(docs, docs, side="left")  # the value's place in its document
    layers = np.full((int(rank.max()) + 1 if len(rank) else 1, doc_count), none, dtype=np.int32)
    layers[rank, docs] = ords[order]
    return layers


def posting_tables(
    store: Store, live: np.ndarray, fields: tuple[str, ...] = TEXT_FIELDS, written: Written | None = None
) -> dict[str, PostingTable]:
    """The posting lists of live documents of ``fields`` (every scored field), merged from each segment's.

    A segment's table that its bulk writer held (``written``) is taken as it is; any other is read
    back through Whoosh (decoding every posting block: ~8 s at 100k documents).
    """
    segments = list(enumerate(store.segments()))
    return {
        field: merge_live(
            [(offset, held_table(store, p, segment_id, field, written)) for p, (segment_id, offset) in segments], live
        )
        for field in fields
    }


def held_table(store: Store, position: int, segment_id: str, field: str, written: Written | None) -> PostingTable:
    """A segment's posting lists of a field: as its bulk writer held them (``written``), else read back."""
    found = (written or {}).get(segment_id, {}).get(field)
    return found if found is not None else segment_table(store, position, field)


def segment_table(store: Store, position: int, field: str) -> PostingTable:
    """One segment's posting lists of a field, deleted documents included."""
    terms, counts, ids, tfs = store.segment_lists(position, field)
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts)
    return PostingTable(Strings.of(terms), starts, ids.astype(np.int32), tfs)


def merge_live(parts: list[tuple[int, PostingTable]], live: np.ndarray) -> PostingTable:
    """One table of live documents from segments' tables (each with its first document number).

    Postings are grouped by term with a stable sort: segments come in document order and each
    segment's list is ascending, so every merged list is ascending too. A term left with no live
    document is dropped, as a full build of the live documents would never have had it.
    """
    terms = sorted(set().union(*(table.terms.to_list() for _, table in parts)))  # str order = UTF-8 byte order
    ordinal = {term: i for i, term in enumerate(terms)}
    term_parts, id_parts, tf_parts = [], [], []
    for offset, table in parts:
        ordinals = np.fromiter((ordinal[t] for t in table.terms.to_list()), dtype=np.int64, count=len(table.terms))
        term_parts.append(np.repeat(ordinals, np.diff(table.starts)))
        id_parts.append(np.asarray(table.ids, dtype=np.int64) + offset)
        tf_parts.append(np.asarray(table.tfs))
    term_of = np.concatenate(term_parts) if term_parts else np.zeros(0, np.int64)
    ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64)
    tfs = np.concatenate(tf_parts) if tf_parts else np.zeros(0)
    keep = live[ids]
    order = np.argsort(term_of[keep], kind="stable")
    term_of, ids, tfs = term_of[keep][order], ids[keep][order], tfs[keep][order]
    counts = np.bincount(term_of, minlength=len(terms))
    present = counts > 0
    starts = np.zeros(int(present.sum()) + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts[present])
    kept = [term for term, there in zip(terms, present.tolist(), strict=True) if there]
    return PostingTable(Strings.of(kept), starts, ids.astype(np.int32), frequencies(tfs))
