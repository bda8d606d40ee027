"""Ranking metrics over lists of document keys."""

from __future__ import annotations

from math import log2


def ndcg_at_k(ranked: list[str], gains: dict[str, float], k: int = 10) -> float:
    """Normalized discounted cumulative gain of the first ``k`` results (graded gains)."""
    dcg = sum(gains.get(key, 0.0) / log2(i + 2) for i, key in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def reciprocal_rank(ranked: list[str], relevant: set[str]) -> float:
    """1 / rank of the first relevant result, 0 when none is found."""
    for i, key in enumerate(ranked):
        if key in relevant:
            return 1.0 / (i + 1)
    return 0.0


def recall_at_k(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    """Share of the relevant documents found in the first ``k`` results."""
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0
