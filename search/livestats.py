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


def deleted_docnums(reader) -> np.ndarray:
    """Document numbers of deleted documents, over every segment of a (multi-)reader."""
    found = [
        np.fromiter(sub.deleted_docs_set, dtype=np.int64) + offset
        for sub, offset in reader.leaf_readers()
        if sub.has_deletions()
    ]
    return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


@dataclass
class LiveStats:
    """Collection statistics of the documents that are not deleted."""

    doc_count: int
    field_lengths: dict[str, int]
    deleted_df: Counter = field(default_factory=Counter)

    @classmethod
    def from_reader(cls, reader) -> "LiveStats":
        """Whoosh's totals minus what the deleted documents contributed."""
        schema = reader.schema
        scorable = [name for name in schema.names() if schema[name].scorable]
        lengths = {name: reader.field_length(name) for name in scorable}
        deleted_df: Counter = Counter()
        for docnum in deleted_docnums(reader).tolist():
            stored = reader.stored_fields(docnum)
            for name in scorable:
                # None (not the default) for a field the document never had, e.g. an item without excerpt
                lengths[name] -= reader.doc_field_length(docnum, name, 0) or 0
            texts = analyzed_texts(stored.get("title", ""), stored.get("excerpt", ""), stored.get("provider", ""))
            for name, text in texts.items():
                for term in set(schema[name].process_text(text, mode="index")):
                    deleted_df[(name, term)] += 1
        return cls(reader.doc_count(), lengths, deleted_df)

    def doc_frequency(self, reader, fieldname: str, text: str | bytes) -> int:
        """Live documents whose field has the term (Whoosh passes terms as str or as UTF-8 bytes)."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return reader.doc_frequency(fieldname, text) - self.deleted_df.get((fieldname, text), 0)

    def avg_field_length(self, fieldname: str) -> float:
        """Average length of a field over live documents."""
        return self.field_lengths.get(fieldname, 0) / (self.doc_count or 1)
