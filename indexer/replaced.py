"""What replaced and removed versions held: the live statistics of a generation, and what an update takes over.

Whoosh keeps a deleted document in its segment's statistics (field totals, document frequencies)
until the segment is merged away. A generation's derived data records what its deleted documents
held, so searchers subtract it (``search.livestats``) and score as over a full build of the live
documents; an update takes the followed generation's record over and counts only what changed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from . import carry
from .batch_analysis import FieldTerms, batchable
from .persisted import Derived
from .schema import FACET_FIELDS, analyzed_texts
from .storage import Store
from .tables import PostingTable


@dataclass(frozen=True)
class Followed:
    """The generation an update follows: its store and derived data, which the update takes over."""

    store: Store
    derived: Derived
    deleted_df: Counter  # what its deleted documents held, per (field, term)

    @classmethod
    def of(cls, store: Store, derived: Derived) -> Followed:
        terms, counts = derived.deleted_terms, derived.deleted_counts
        held = Counter(dict(zip((tuple(t.split("\x00", 1)) for t in terms.to_list()), counts.tolist(), strict=True)))
        return cls(store, derived, held)

    def doc_map(
        self, store: Store, live: np.ndarray | None = None, changed: np.ndarray | None = None
    ) -> carry.DocMap | None:
        """Where its documents are in ``store``, when its segments line up (``carry.DocMap``).

        With ``store``'s live mask and the key hashes the update ``changed``, the live documents of
        a merged tail are placed too (``DocMap.with_merged_tail``).
        """
        if set(self.derived.facets) != set(FACET_FIELDS) or self.derived.doc_count != self.store.doc_count:
            return None
        docs = carry.DocMap.between(self.store.segments(), self.store.doc_count, store.segments(), store.doc_count)
        if docs is None or live is None or changed is None or docs.identity:
            return docs
        before = self.derived
        return docs.with_merged_tail(before.live, before.key_hash, live, store.column("key_hash"), changed)


def live_statistics(
    store: Store, deleted: np.ndarray, followed: Followed | None = None, docs: carry.DocMap | None = None
) -> tuple[dict[str, int], Counter]:
    """(live total length of each scorable field, deleted documents per (field, term)).

    Whoosh keeps a deleted document in its segment's statistics until the segment is merged away;
    subtracting what the deleted documents contributed (their stored lengths; their terms
    re-analyzed from their stored text, by the field table) gives the statistics of a full build of
    the live documents. The texts of a field are analyzed as one batch, each distinct word once
    (``indexer.batch_analysis``). An update takes over what the ``followed`` generation's deleted
    documents held (a deletion is forever, and their segments' files never change): it analyzes
    only the documents deleted since, and subtracts those a merge dropped (analyzed from the
    followed generation). After many updates there are thousands of replaced versions; analyzing
    them all again took seconds per update.
    """
    scorable = store.scorable_fields()
    lengths = {name: store.field_length(name) - int(store.stored_lengths(name)[deleted].sum()) for name in scorable}
    deleted_df: Counter = Counter()
    fresh = deleted
    if docs is None and followed is not None:  # derive() passes the map it already made
        docs = followed.doc_map(store)
    if followed is not None and docs is not None:
        was_deleted = np.flatnonzero(~np.asarray(followed.derived.live))
        still = docs.old_to_new[was_deleted]
        known = np.zeros(store.doc_count, dtype=bool)
        known[still[still >= 0]] = True
        fresh = deleted[~known[deleted]]
        deleted_df.update(followed.deleted_df)
        dropped: Counter = Counter()  # what the deleted documents of merged-away segments held
        _count_terms(followed.store, was_deleted[still < 0], dropped)
        deleted_df.subtract(dropped)
        deleted_df = +deleted_df  # drop what fell to zero, as a full count would never list it
        # the newly deleted were live in the followed generation: its posting tables list their terms
        tables = followed.derived.postings
        listed = [name for name in scorable if name in tables]
        old_number = np.full(store.doc_count, -1, dtype=np.int64)
        mapped = docs.old_to_new >= 0
        old_number[docs.old_to_new[mapped]] = np.flatnonzero(mapped)
        was_live = old_number[fresh]
        in_tables = was_live >= 0
        for name in listed:
            _count_listed(tables[name], name, was_live[in_tables], len(mapped), deleted_df)
        _count_terms(store, fresh[in_tables], deleted_df, skip=listed)
        fresh = fresh[~in_tables]
    _count_terms(store, fresh, deleted_df)
    return lengths, deleted_df


def _count_listed(table: PostingTable, field: str, docnums: np.ndarray, doc_count: int, into: Counter) -> None:
    """Add to ``into`` the documents of ``docnums`` holding each term of ``field``, from a table listing them."""
    chosen = np.zeros(doc_count, dtype=bool)
    chosen[docnums] = True
    hits = np.flatnonzero(chosen[np.asarray(table.ids)])
    terms = np.searchsorted(np.asarray(table.starts), hits, side="right") - 1
    counts = np.bincount(terms, minlength=len(table.terms))
    for term_id in np.flatnonzero(counts).tolist():
        into[(field, table.terms[term_id])] += int(counts[term_id])


def _count_terms(store: Store, docnums: np.ndarray, into: Counter, skip: Iterable[str] = ()) -> None:
    """Add to ``into`` the documents of ``docnums`` holding each (field, term) but those of ``skip``, as analyzed."""
    skip = frozenset(skip)
    texts: dict[str, list[str]] = defaultdict(list)
    for docnum in docnums.tolist():
        for name, text in analyzed_texts(store.stored(docnum)).items():
            if name not in skip:
                texts[name].append(text)
    for name, field_texts in texts.items():
        analyzer = store.analyzer(name)
        if not batchable(analyzer):
            for text in field_texts:
                into.update((name, term) for term in store.analyzed(name, text))
            continue
        terms = FieldTerms(analyzer)
        batch = terms.analyze(field_texts)
        if not len(terms.terms):
            continue
        held = np.unique(batch.docs.astype(np.int64) * len(terms.terms) + batch.terms)  # (text, term) once
        counts = np.bincount(held % len(terms.terms), minlength=len(terms.terms))
        for term_id in np.flatnonzero(counts).tolist():
            into[(name, terms.terms[term_id])] += int(counts[term_id])
