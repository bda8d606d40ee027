"""Vectorized ranking over per-generation posting arrays.

Whoosh stores and matches; this module scores. For each (field, term) of a query the posting
list of live documents is a slice of the arrays the build wrote (``indexer.persisted``, mapped:
no read, no copy), or for other fields read once per generation from Whoosh, and BM25F is
computed for every matching document at once with the same formula Whoosh uses
(``whoosh.scoring.bm25``), on live collection statistics (``LiveStats``). Top-k, sorting and
facets then are array operations, so a query costs about the same whether it matches ten
documents or sixty thousand.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from indexer.storage import Store
from indexer.tables import PostingTable

from .livestats import LiveStats
from .ranking import RankingPolicy

POSTINGS_CACHE_ENTRIES = 4_096
# a term's BM25 over all its postings, kept per generation: a common word's (tens of thousands of
# postings, a gather and five array operations) is then computed once, not on every query holding it
BM25_CACHE_BYTES = 16 * 2**20
BM25_CACHE_FROM = 256  # postings: shorter lists are cheaper to score again than to keep
# a common word's arrays (search.words: over every document, 1.9 MB at 100k documents, or over those
# holding it), kept per generation: summing its fields' and forms' postings took 1-6 ms on every query holding it
DENSE_CACHE_BYTES = 32 * 2**20


@dataclass
class ScoringData:
    """Per-generation arrays: document lengths, live mask, statistics, posting lists and a cache."""

    store: Store
    doc_count: int
    live: np.ndarray
    lengths: dict[str, np.ndarray]
    stats: LiveStats
    policy: RankingPolicy
    mapped: dict[str, PostingTable] = field(default_factory=dict)  # the build's live posting lists, by field

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray, float]] = OrderedDict()
        self._bm25: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()  # by (kind, field, term)
        self._bm25_bytes = 0
        self._dense: OrderedDict[object, tuple[np.ndarray, ...]] = OrderedDict()
        self._dense_bytes = 0

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(live document numbers, term frequencies) of a term, cached for this generation."""
        return self._entry(field, term)[:2]

    def idf(self, field: str, term: str) -> float:
        """The policy's idf, on live statistics (cached with the postings)."""
        return self._entry(field, term)[2]

    def _entry(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray, float]:
        key = (field, term)
        with self.lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            table = self.mapped.get(field)
            if table is not None:
                # views of mapped, live-only lists: nothing read from Whoosh, nothing copied; df is their length
                ids, tfs = table.get(term)
            else:
                ids, tfs = self.store.postings(field, term)
                keep = self.live[ids]
                ids, tfs = ids[keep], tfs[keep]
            entry = (ids, tfs, self.policy.idf(self.stats.doc_count, self._idf_frequency(field, term)))
            self._cache[key] = entry
            if len(self._cache) > POSTINGS_CACHE_ENTRIES:
                self._cache.popitem(last=False)
            return entry

    def _idf_frequency(self, field: str, term: str) -> int:
        """The document frequency a term's idf in ``field`` reads: its scored fields' largest, or the field's own."""
        boosts = self.policy.boosts
        if self.policy.idf_fields == "max" and boosts.get(field):
            return max(self.doc_frequency(f, term) for f, boost in boosts.items() if boost)
        return self.doc_frequency(field, term)

    def doc_frequencies(self, field: str, terms: list[str]) -> np.ndarray:
        """``doc_frequency`` of many terms, looked up together in the mapped table when there is one."""
        table = self.mapped.get(field)
        if table is None or not terms:
            return np.asarray([self.doc_frequency(field, t) for t in terms], dtype=np.int64)
        at = table.terms.find_many(terms)
        found = at >= 0
        frequencies = np.zeros(len(terms), dtype=np.int64)
        frequencies[found] = table.starts[at[found] + 1] - table.starts[at[found]]
        return frequencies

    def doc_frequency(self, field: str, term: str) -> int:
        """Live documents holding a term (for did-you-mean)."""
        table = self.mapped.get(field)
        if table is not None:
            return len(table.get(term)[0])
        return self.stats.doc_frequency(self.store, field, term)

    def term_bm25(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(live documents holding a term, their unboosted BM25): ``bm25`` over all its postings, cached."""
        return self._per_posting("bm25", field, term, self.bm25)

    def term_frequency(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(live documents holding a term, its length-normalised frequency there): what BM25F sums over fields."""
        return self._per_posting("tf", field, term, self.normalised_tf)

    def _per_posting(self, kind: str, field: str, term: str, compute) -> tuple[np.ndarray, np.ndarray]:
        """A term's postings and ``compute(field, term, ids, tf)`` over them, kept per generation for long lists."""
        ids, tf = self.postings(field, term)
        if len(ids) < BM25_CACHE_FROM:
            return ids, compute(field, term, ids, tf)
        key = (kind, field, term)
        with self.lock:
            hit = self._bm25.get(key)
            if hit is not None:
                self._bm25.move_to_end(key)
                return ids, hit
        values = compute(field, term, ids, tf)
        values.flags.writeable = False  # shared by every request that scores the term
        with self.lock:
            if key not in self._bm25 and values.nbytes <= BM25_CACHE_BYTES:
                self._bm25[key] = values
                self._bm25_bytes += values.nbytes
                while self._bm25_bytes > BM25_CACHE_BYTES:
                    self._bm25_bytes -= self._bm25.popitem(last=False)[1].nbytes
        return ids, values

    def remembered(self, key: object, compute: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        """``compute()``'s arrays, kept for this generation under ``key`` while ``DENSE_CACHE_BYTES`` allow.

        The arrays are shared by every request that asks: read-only, a caller copies what it changes.
        """
        with self.lock:
            hit = self._dense.get(key)
            if hit is not None:
                self._dense.move_to_end(key)
                return hit
        arrays = compute()
        for array in arrays:
            array.flags.writeable = False
        size = sum(array.nbytes for array in arrays)
        with self.lock:
            if key not in self._dense and size <= DENSE_CACHE_BYTES:
                self._dense[key] = arrays
                self._dense_bytes += size
                while self._dense_bytes > DENSE_CACHE_BYTES:
                    self._dense_bytes -= sum(a.nbytes for a in self._dense.popitem(last=False)[1])
        return arrays

    def bm25(self, field: str, term: str, ids: np.ndarray, tf: np.ndarray) -> np.ndarray:
        """Unboosted BM25 of a term for some of its postings (``ids`` and their ``tf``)."""
        avg = self.stats.avg_field_length(field)
        return self.policy.bm25(field, self.idf(field, term), tf, self.lengths[field][ids], avg)

    def normalised_tf(self, field: str, term: str, ids: np.ndarray, tf: np.ndarray) -> np.ndarray:
        """A term's frequency in ``field`` over its length norm, for some of its postings (``ids`` and their ``tf``)."""
        return self.policy.normalised_tf(field, tf, self.lengths[field][ids], self.stats.avg_field_length(field))

    def held(self, term: str) -> int:
        """Live documents holding a term in their excerpt, or else in their title (0: no item holds it)."""
        return self.doc_frequency("excerpt", term) or self.doc_frequency("title", term)

    def mask_of(self, field: str, term: str) -> np.ndarray:
        """Live documents whose field holds the term."""
        mask = np.zeros(self.doc_count, dtype=bool)
        mask[self.postings(field, term)[0]] = True
        return mask
