"""Facet counting with numpy over per-generation ordinal arrays.

For each facet field the index's posting lists are read once per index generation into two
parallel arrays (document number, value ordinal). Counting the values of any set of matching
documents is then one ``bincount``, whatever the number of hits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from indexer.schema import FACETS
from indexer.storage import Store
from indexer.text import fold_accents


def fold(value: str) -> str:
    """Case- and accent-insensitive form of a facet value."""
    return fold_accents(value).casefold().strip()


@dataclass
class FacetTable:
    """All (document, value) pairs of one facet field."""

    field: str
    values: list[str]
    doc_ids: np.ndarray
    ords: np.ndarray
    doc_ord: np.ndarray | None = None  # per-document ordinal when each document has at most one value
    _folded: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Store, fieldname: str, live: np.ndarray | None = None) -> "FacetTable":
        """Read the field's posting lists into ordinal arrays (only ``live`` documents, when given).

        A value held only by replaced or removed versions is left out, as a full build would.
        """
        values: list[str] = []
        id_chunks: list[np.ndarray] = []
        ord_chunks: list[np.ndarray] = []
        for value, _frequency in store.words(fieldname):
            ids = store.postings(fieldname, value)[0].astype(np.int32)
            if live is not None:
                ids = ids[live[ids]]
            if len(ids) == 0:
                continue
            id_chunks.append(ids)
            ord_chunks.append(np.full(len(ids), len(values), dtype=np.int32))
            values.append(value)
        doc_ids = np.concatenate(id_chunks) if id_chunks else np.zeros(0, np.int32)
        ords = np.concatenate(ord_chunks) if ord_chunks else np.zeros(0, np.int32)
        table = cls(fieldname, values, doc_ids, ords)
        table._folded = {fold(v): i for i, v in enumerate(values)}
        if len(np.unique(doc_ids)) == len(doc_ids):
            # single-valued (provider, year, kind): counting gathers only the matching documents
            table.doc_ord = np.full(store.doc_count, len(values), dtype=np.int32)
            table.doc_ord[doc_ids] = ords
        return table

    def resolve(self, value: str) -> str | None:
        """The stored spelling of a user-typed value ('reuters' -> 'Reuters'), or None."""
        ordinal = self._folded.get(fold(value))
        return None if ordinal is None else self.values[ordinal]

    def counts(self, mask: np.ndarray) -> np.ndarray:
        """How many documents selected by ``mask`` carry each value."""
        if self.doc_ord is not None:
            return np.bincount(self.doc_ord[mask], minlength=len(self.values) + 1)[: len(self.values)]
        return np.bincount(self.ords[mask[self.doc_ids]], minlength=len(self.values))

    def mask(self, selected: list[str], doc_count: int) -> np.ndarray:
        """Documents carrying any of the ``selected`` values (values OR together)."""
        wanted = [self._folded[fold(v)] for v in selected if fold(v) in self._folded]
        if self.doc_ord is not None:
            return np.isin(self.doc_ord, wanted)
        result = np.zeros(doc_count, dtype=bool)
        if wanted:
            result[self.doc_ids[np.isin(self.ords, wanted)]] = True
        return result

    def summarize(self, counts: np.ndarray, selected: list[str], toggle_url) -> tuple[list[dict], bool]:
        """Facet rows as Datasette has them, and whether values were left out (``truncated``).

        Each row is plain data: ``value``, ``label`` (how the page shows it), ``count``, ``selected``
        and ``toggle_url`` (``toggle_url(field, value)``: the query that adds or removes it). Rows are
        the facet's top ``size`` values (newest first for dates, else most items first) plus every
        selected one.
        """
        facet = FACETS[self.field]
        chosen = {self.resolve(v) or v for v in selected}
        nonzero = np.flatnonzero(counts)
        if facet.by_value:
            order = sorted(nonzero, key=lambda i: self.values[i], reverse=True)
        else:
            order = sorted(nonzero, key=lambda i: (-counts[i], self.values[i].casefold()))
        pairs = [(self.values[i], int(counts[i])) for i in order[: facet.size]]
        shown = {value for value, _ in pairs}
        for value in sorted(chosen - shown):
            ordinal = self._folded.get(fold(value))
            pairs.append((value, int(counts[ordinal]) if ordinal is not None else 0))
        rows = [
            {
                "value": value,
                "label": facet.label_of(value),
                "count": count,
                "selected": value in chosen,
                "toggle_url": toggle_url(self.field, value),
            }
            for value, count in pairs
        ]
        return rows, len(order) > facet.size
