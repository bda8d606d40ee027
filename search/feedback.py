"""Pseudo-relevance feedback (RM3): a query's best first results lend it the words they share.

An item phrased otherwise than the query ("covid hospital capacity forecasting" against "AI trial
hopes to help hospitals plan bed and ventilator demand") ranks low on the typed words alone. RM3
(Lavrenko and Croft's relevance model, interpolated with the query, as Anserini and Terrier run it)
reads the first ranking's top ``feedback_docs`` items (a syndicated copy, same analyzed title, read
once) and estimates a word distribution from them: each item's words by their share of its text
(title words twice, as "more like this" counts them), weighted by the item's share of the top items'
scores. Its ``feedback_terms`` most probable words that the query does not hold are then scored
beside the typed words, their weights summing to ``feedback_weight`` x the number of typed words
(each typed word weighs 1).

Feedback words only reorder what the query matched: they never make an item match, so the matching
rule and every count stay those of the typed words. Off by default (``policy.feedback_from`` 0): it
passed the tuning half and then lowered the fresh half (docs/relevance.md, sixth round).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from indexer.analysis import analyze

from .expansion import Alternative
from .words import sparse_alternative

READ_AT_MOST = 4  # x feedback_docs: items read to find that many distinct ones (copies are skipped)


def feedback_words(
    ranking: np.ndarray, matches: np.ndarray, partial: np.ndarray | None, gen, typed: list[str]
) -> list[list[Alternative]]:
    """The feedback words of a query as weighted groups of one alternative (empty when none).

    ``ranking`` is the first ranking's score per document, ``matches`` the items it matched,
    ``partial`` those of them ranked after the others (as the page ranks them), ``typed`` the
    analyzed terms of the typed words.
    """
    policy = gen.policy
    docs = np.flatnonzero(matches)
    if not len(docs) or not policy.feedback_terms:
        return []
    later = partial[docs] if partial is not None else np.zeros(len(docs), dtype=bool)
    # the first ranking's best items, a syndicated copy (same analyzed title) read once: copies of one
    # press release would otherwise outvote every other item
    texts: dict[str, tuple[float, Counter[str]]] = {}
    for doc in _first(docs, ranking, later, READ_AT_MOST * policy.feedback_docs).tolist():
        if len(texts) == policy.feedback_docs:
            break
        stored = gen.stored(doc)
        title = analyze(stored.get("title", ""))
        signature = " ".join(title)
        if signature not in texts:
            texts[signature] = (float(ranking[doc]), Counter(title * 2 + analyze(stored.get("excerpt", ""))))
    total_score = sum(score for score, _ in texts.values())
    if total_score <= 0:
        return []
    model: Counter[str] = Counter()
    for score, counts in texts.values():
        length = sum(counts.values()) or 1
        for term, count in counts.items():
            model[term] += score / total_score * count / length
    skip = set(typed)
    ranked = sorted(model.items(), key=lambda item: (-item[1], item[0]))
    candidates = [(t, p) for t, p in ranked if t not in skip and t.isalpha()]
    most = policy.feedback_max_share * gen.scoring.stats.doc_count
    chosen: list[tuple[str, float]] = []
    step = 4 * policy.feedback_terms  # most probable first, their frequencies looked up together
    for start in range(0, len(candidates), step):
        batch = candidates[start : start + step]
        terms = [t for t, _ in batch]
        frequency = np.maximum(*(gen.scoring.doc_frequencies(field, terms) for field in ("title", "excerpt")))
        # a word of one item only adds nothing the item's own rank does not say; a word of most items
        # says nothing about any of them
        chosen += [c for c, f in zip(batch, frequency.tolist(), strict=True) if 2 <= f <= most]
        if len(chosen) >= policy.feedback_terms:
            break
    chosen = chosen[: policy.feedback_terms]
    total = sum(p for _, p in chosen)
    scale = policy.feedback_weight * len(typed) / total if total else 0.0
    return [[Alternative(term, scale * p, "feedback", term)] for term, p in chosen]


def _first(docs: np.ndarray, ranking: np.ndarray, later: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` of ``docs`` as ``np.lexsort((-ranking[docs], later))`` orders them, sorting only those.

    A common word matches tens of thousands of items: sorting them all took longer than the rest of feedback.
    """
    out: list[np.ndarray] = []
    for group in (docs[~later], docs[later]):
        need = k - sum(len(o) for o in out)
        if need <= 0 or not len(group):
            continue
        scores = ranking[group]
        if len(group) > need:  # keep every item scoring at least the need-th best (ties kept, in document order)
            keep = scores >= np.partition(scores, len(group) - need)[len(group) - need]
            group, scores = group[keep], scores[keep]
        out.append(group[np.argsort(-scores, kind="stable")][:need])
    return np.concatenate(out) if out else docs[:0]


def feedback_bm25(groups: list[list[Alternative]], gen) -> np.ndarray:
    """The feedback words' weighted score over every document (what they add to an item's BM25), as a word's."""
    scores = np.zeros(gen.doc_count)
    for (alt,) in groups:
        ids, values, _ = sparse_alternative(alt, gen)  # over the word's postings: no collection-sized arrays
        scores[ids] += values
    return scores
