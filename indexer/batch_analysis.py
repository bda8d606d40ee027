"""Batch analysis for bulk builds: a field's own analyzer run once per distinct word, not per token.

The analyzers of ``indexer.analysis`` are a tokenizer followed by per-token filters (lower-case,
accent folding, stop words, stemming): a word's term depends on that word alone. So a batch of
texts is split into words with the tokenizer's pattern (``analysis.split_words``), each distinct word
goes through the field's real analyzer once (remembered), and the batch becomes numpy arrays
(document, position, term id). Positions follow the analyzer's own rule: a ``StopFilter`` that
renumbers keeps the first kept word's position and numbers the next kept words from it.

Nothing here re-implements a filter: an analyzer with a step not known to work token by token is
refused (``batchable``), and such a field is analyzed per document instead.
tests/test_bulk.py checks the arrays against the analyzer on whole corpora.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
from whoosh.analysis import CharsetFilter, LowercaseFilter, StemFilter, StopFilter
from whoosh.analysis.analyzers import CompositeAnalyzer

from . import analysis

# steps that map one token to at most one token, looking at that token only
_PER_TOKEN_STEPS = (analysis.NltkTokenizer, LowercaseFilter, CharsetFilter, StopFilter, StemFilter)


def batchable(analyzer: object) -> bool:
    """Whether ``analyzer`` can be run word by word: this project's tokenizer, then per-token filters."""
    items = getattr(analyzer, "items", None)
    return (
        isinstance(analyzer, CompositeAnalyzer)
        and bool(items)
        and isinstance(items[0], analysis.NltkTokenizer)
        and all(type(step) in _PER_TOKEN_STEPS for step in items)
    )


_WORDS_BY_ANALYZER: list[tuple[object, dict[str, str]]] = []  # equal analyzers share what they learned


def _shared_words(analyzer: object) -> dict[str, str]:
    """The term of each word seen ("" for a stop word), shared by every analyzer equal to ``analyzer``."""
    for known, words in _WORDS_BY_ANALYZER:
        if known == analyzer:
            return words
    _WORDS_BY_ANALYZER.append((analyzer, {}))
    return _WORDS_BY_ANALYZER[-1][1]


@dataclass
class Batch:
    """One field of a batch of documents, analyzed: one row per indexed token, in document order."""

    docs: np.ndarray  # int32: the document's index in the batch
    positions: np.ndarray  # int32: the token's position, as the analyzer numbers it
    terms: np.ndarray  # int32: ids into FieldTerms.terms
    lengths: np.ndarray  # int64 per document: tokens indexed (Whoosh's field length)


class FieldTerms:
    """A field's terms: word -> term id (-1 for a stop word), remembered across batches."""

    def __init__(self, analyzer: CompositeAnalyzer) -> None:
        if not batchable(analyzer):
            raise ValueError(f"{analyzer!r} does not analyze word by word")
        self.analyzer = analyzer
        self.renumber = any(isinstance(s, StopFilter) and s.renumber for s in analyzer.items)
        self.terms: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._word_ids: dict[str, int] = {}

    def _learn(self, word: str) -> int:
        words = _shared_words(self.analyzer)
        term = words.get(word)
        if term is None:
            term = words[word] = analysis.term_of_word(self.analyzer, word)
        term_id = -1
        if term:
            term_id = self._term_ids.get(term, -1)
            if term_id < 0:
                term_id = self._term_ids[term] = len(self.terms)
                self.terms.append(term)
        self._word_ids[word] = term_id
        return term_id

    def analyze(self, texts: Sequence[str]) -> Batch:
        """The indexed tokens of ``texts`` (one per document; "" for none)."""
        split = [analysis.split_words(text) if text else [] for text in texts]
        counts = np.fromiter(map(len, split), dtype=np.int64, count=len(texts))
        words: list[str] = list(chain.from_iterable(split))
        known, learn = self._word_ids.get, self._learn
        ids = np.fromiter(map(known, words, repeat(-2)), dtype=np.int32, count=len(words))
        for i in np.flatnonzero(ids == -2):  # words never seen: through the analyzer, once each
            word = words[i]
            ids[i] = self._word_ids[word] if word in self._word_ids else learn(word)
        docs = np.repeat(np.arange(len(texts), dtype=np.int32), counts)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        raw_positions = (np.arange(len(words), dtype=np.int64) - np.repeat(starts, counts)).astype(np.int32)
        kept = ids >= 0
        docs, raw_positions, ids = docs[kept], raw_positions[kept], ids[kept]
        lengths = np.bincount(docs, minlength=len(texts)).astype(np.int64)
        if self.renumber and len(docs):
            # StopFilter(renumber=True): the first kept word keeps its position, the next count on from it
            first = np.concatenate(([0], np.cumsum(lengths)[:-1]))  # index of each document's first kept word
            rank = np.arange(len(docs)) - np.repeat(first, lengths)
            positions = (np.repeat(raw_positions[first[lengths > 0]], lengths[lengths > 0]) + rank).astype(np.int32)
        else:
            positions = raw_positions
        return Batch(docs, positions, ids, lengths)
