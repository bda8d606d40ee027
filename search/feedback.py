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
rule and every count stay those of the typed words. Off by default (``policy.feedback_from`` 0): on
the graded set's tuning half it lifted nDCG@10 but lowered typo recall (docs/relevance.md).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from indexer.analysis import analyze

from .expansion import Alternative

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
    read = docs[np.lexsort((-ranking[docs], later))[: READ_AT_MOST * policy.feedback_docs]]
    for doc in read.tolist():
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
    most = policy.feedback_max_share * gen.scoring.stats.doc_count
    chosen: list[tuple[str, float]] = []
    for term, probability in sorted(model.items(), key=lambda item: (-item[1], item[0])):
        if len(chosen) == policy.feedback_terms:
            break
        if term in skip or not term.isalpha():
            continue
        # a word of one item only adds nothing the item's own rank does not say; a word of most items
        # says nothing about any of them
        frequency = max(gen.scoring.doc_frequency(field, term) for field in ("title", "excerpt"))
        if 2 <= frequency <= most:
            chosen.append((term, probability))
    total = sum(p for _, p in chosen)
    scale = policy.feedback_weight * len(typed) / total if total else 0.0
    return [[Alternative(term, scale * p, "feedback", term)] for term, p in chosen]
