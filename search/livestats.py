"""Live collection statistics: what BM25 reads, as a full build of the same documents would have it.

Whoosh keeps a deleted document in its segment's statistics until that segment is merged
away. An incremental update deletes and re-adds the changed documents, so Whoosh's own
document frequencies and average field lengths would drift from a full build's, and so
would every score. ``LiveStats`` subtracts the deleted documents (re-analyzed from their
still-stored text when the generation was built: ``indexer.replaced.live_statistics``), which
makes scores bit-identical to a full build of the same documents without rewriting the whole
index on each update.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.persisted import Derived
from indexer.storage import Store


@dataclass
class LiveStats:
    """Collection statistics of the documents that are not deleted."""

    doc_count: int
    field_lengths: dict[str, int]
    derived: Derived  # the deleted documents' term counts

    def doc_frequency(self, store: Store, fieldname: str, text: str) -> int:
        """Live documents whose field has the term."""
        return store.doc_frequency(fieldname, text) - self.derived.deleted_df(fieldname, text)

    def avg_field_length(self, fieldname: str) -> float:
        """Average length of a field over live documents."""
        return self.field_lengths.get(fieldname, 0) / (self.doc_count or 1)
