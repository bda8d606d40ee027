"""Live collection statistics: what BM25 reads, as a full build of the same documents would have it.

Whoosh keeps a deleted document in its segment's statistics until that segment is merged
away. An incremental update deletes and re-adds the changed documents, so Whoosh's own
document frequencies and average field lengths would drift from a full build's, and so
would every score. ``LiveStats`` subtracts the deleted documents (re-analyzed from their
still-stored text), which makes scores bit-identical to a full build of the same documents
without rewriting the whole index on each update.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from indexer.schema import analyzed_texts
from indexer.storage import Store


@dataclass
class LiveStats:
    """Collection statistics of the documents that are not deleted."""

    doc_count: int
    field_lengths: dict[str, int]
    deleted_df: Counter = field(default_factory=Counter)

    @classmethod
    def from_store(cls, store: Store, deleted: np.ndarray) -> "LiveStats":
        """The index's totals minus what the ``deleted`` documents contributed."""
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
        return cls(store.doc_count - len(deleted), lengths, deleted_df)

    def doc_frequency(self, store: Store, fieldname: str, text: str) -> int:
        """Live documents whose field has the term."""
        return store.doc_frequency(fieldname, text) - self.deleted_df.get((fieldname, text), 0)

    def avg_field_length(self, fieldname: str) -> float:
        """Average length of a field over live documents."""
        return self.field_lengths.get(fieldname, 0) / (self.doc_count or 1)
