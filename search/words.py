"""Plain words scored for every document at once: BM25F per word, its completions and corrections.

Each query word is a group of alternatives (``search.expansion``): the word itself, and for the
last word its completions, for a misspelt word its close spellings, each with a weight below 1.
A document's score for a word is its best alternative's (weight x boosted BM25 over the fields),
so an item never gains from holding several spellings of one word, and exact words rank above
completions and corrections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .expansion import Alternative


@dataclass
class WordScores:
    """Per-document arrays for a query's words (each a group of alternatives)."""

    scores: np.ndarray  # boosted BM25 summed over words (each word: its best alternative)
    title_scores: np.ndarray  # unboosted title BM25 summed over words
    matched: np.ndarray  # how many of the words each document holds (in some form, in some field)
    in_title: np.ndarray  # how many of the words each document holds in its title
    matched_idf: np.ndarray  # the summed idf of the words each document holds
    total_idf: float  # the summed idf of all the words
    words: int  # how many words were scored

    @classmethod
    def of(cls, groups: list[list[Alternative]], gen) -> WordScores:
        """Score every group of alternatives for every document of the generation."""
        n = gen.doc_count
        scores, title_scores, matched_idf = np.zeros(n), np.zeros(n), np.zeros(n)
        matched, in_title = np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32)
        total_idf = 0.0
        for group in groups:
            word_scores, word_title, holds, titled = _group_scores(group, gen)
            scores += word_scores
            title_scores += word_title
            matched += holds
            in_title += titled
            idf = _word_idf(group, gen)
            matched_idf[holds] += idf
            total_idf += idf
        return cls(scores, title_scores, matched, in_title, matched_idf, total_idf, len(groups))

    def coordination(self, policy) -> np.ndarray:
        """Per document, the share of the query it holds: of the words, or of their idf."""
        if policy.coordination == "idf":
            return policy.coordination_factor(self.matched_idf, self.total_idf)
        return policy.coordination_factor(self.matched.astype(np.float64), float(self.words))


def alternative_scores(alt: Alternative, gen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weighted boosted BM25 over the fields, weighted title BM25, which documents hold it)."""
    n = gen.doc_count
    boosts = gen.policy.boosts
    scores, title = np.zeros(n), np.zeros(n)
    holds = np.zeros(n, dtype=bool)
    for field, boost in boosts.items():
        if field != "title" and boost:
            holds[gen.scoring.add_bm25(scores, field, alt.term, boost)] = True
    holds[gen.scoring.add_bm25(title, "title", alt.term, 1.0)] = True
    scores += boosts["title"] * title
    if alt.weight != 1.0:
        scores *= alt.weight
        title *= alt.weight
    return scores, title, holds


def _group_scores(group: list[Alternative], gen) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    scores, title, holds = alternative_scores(group[0], gen)
    titled = title > 0
    for alt in group[1:]:
        # completions and corrections touch only their own postings: no whole-collection arrays each
        ids, alt_scores, alt_title = _sparse_scores(alt, gen)
        better = alt_scores > scores[ids]
        scores[ids[better]] = alt_scores[better]
        title[ids[better]] = alt_title[better]
        holds[ids] = True
        titled[ids[alt_title > 0]] = True
    return scores, title, holds, titled


def _sparse_scores(alt: Alternative, gen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(documents holding ``alt``, their weighted boosted BM25, their weighted title BM25), sparse."""
    parts_ids, parts_scores, parts_title = [], [], []
    for field, boost in gen.policy.boosts.items():
        if not boost:
            continue
        ids, tf = gen.scoring.postings(field, alt.term)
        if len(ids):
            bm25 = gen.scoring.bm25(field, alt.term, ids, tf)
            parts_ids.append(ids)
            parts_scores.append(boost * bm25)
            parts_title.append(bm25 if field == "title" else np.zeros(len(ids)))
    if not parts_ids:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    ids, slot = np.unique(np.concatenate(parts_ids), return_inverse=True)
    scores = np.bincount(slot, weights=np.concatenate(parts_scores), minlength=len(ids)) * alt.weight
    title = np.bincount(slot, weights=np.concatenate(parts_title), minlength=len(ids)) * alt.weight
    return ids, scores, title


def _word_idf(group: list[Alternative], gen) -> float:
    """The weight of a word in coordination: its own idf, or its best-known form's when no item holds it."""
    idf = gen.scoring.idf("excerpt", group[0].term)
    if len(group) > 1 and gen.scoring.doc_frequency("excerpt", group[0].term) <= 0:
        known = [gen.scoring.idf("excerpt", a.term) for a in group[1:] if gen.scoring.doc_frequency("excerpt", a.term)]
        idf = max(known, default=idf)
    return idf
