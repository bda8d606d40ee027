"""What two groups of items agree on, summed over every pair across them: average link's input.

``indexer.events`` merges groups into stories when the mean similarity of their cross pairs is high
enough. Groups only grow, so the sum for two groups is kept and extended by the pairs of members
added since (``CrossSums``), and each part is counted as a product of 0/1 word matrices
(``summed_similarity``) instead of pair by pair.
"""

from __future__ import annotations

import numpy as np

from .event_links import TITLE_WEIGHT, Items, Sets, distinct, ranges


class CrossSums:
    """The summed similarity of every pair across two groups, kept per pair of groups and extended.

    A group only grows, by members appended to its list, so a sum kept for the first ``n1`` and
    ``n2`` members of two groups needs only the pairs that involve a member added since. Without
    it, a group of thousands (a story covered for months) was compared in full with each small
    group it met again after growing by one item: the 20k-item benchmark corpus spent 650 s here.
    """

    def __init__(self, items: Items) -> None:
        self.items = items
        self.kept: dict[tuple[int, int], tuple[float, int, int]] = {}  # (root, root) -> (sum, n1, n2)

    def total(self, rx: int, left: list[int], ry: int, right: list[int]) -> float:
        """The summed similarity of every (left, right) pair, ``rx`` and ``ry`` the groups' names (their first members).

        The two are taken in the order of their key hashes, not their numbers, so the same items sum in
        the same order however they are numbered (a full build and an update agree to the last bit).
        """
        if self.items.key_hash[rx] > self.items.key_hash[ry]:
            rx, ry, left, right = ry, rx, right, left
        total, n1, n2 = self.kept.get((rx, ry), (0.0, 0, 0))
        total += self._block(left[n1:], right) + self._block(left[:n1], right[n2:])
        self.kept[(rx, ry)] = (total, len(left), len(right))
        return total

    def _block(self, first: list[int], second: list[int]) -> float:
        return summed_similarity(self.items, np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64))


def summed_similarity(items: Items, first: np.ndarray, second: np.ndarray) -> float:
    """The summed similarity of every (``first[i]``, ``second[j]``) pair: of two groups, for average link.

    Shared words are counted as a product of 0/1 matrices over the words of a slice of ``first``
    (BLAS), not looked up pair by pair: groups of thousands meet groups of hundreds here.
    """
    if len(first) == 0 or len(second) == 0:
        return 0.0
    total = 0.0
    rows = max(1, _CROSS_CELLS // max(1, int(items.words.sizes()[second].sum())))
    for start in range(0, len(first), rows):
        part = first[start : start + rows]
        words = _cross_jaccard(items.words, part, second)
        titles = _cross_jaccard(items.title_words, part, second)
        total += float(np.maximum(words, TITLE_WEIGHT * titles).sum())
    return total


_CROSS_CELLS = 4_000_000  # rows of ``first`` at a time: about this many (row, word) cells of ``second`` each


def _cross_jaccard(sets: Sets, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Jaccard of every (first, second) pair, as a matrix."""
    sizes = sets.sizes()
    counts = sizes[first]
    terms = sets.ids[ranges(sets.starts[first], counts)]
    vocabulary = distinct(terms)
    local = np.searchsorted(vocabulary, terms)
    ones = np.zeros((len(first), len(vocabulary)), dtype=np.float32)
    ones[np.repeat(np.arange(len(first)), counts), local] = 1.0
    other_counts = sizes[second]
    other_terms = sets.ids[ranges(sets.starts[second], other_counts)]
    at = np.minimum(np.searchsorted(vocabulary, other_terms), max(len(vocabulary) - 1, 0))
    hit = vocabulary[at] == other_terms if len(vocabulary) else np.zeros(len(other_terms), dtype=bool)
    other = np.zeros((len(second), len(vocabulary)), dtype=np.float32)
    other[np.repeat(np.arange(len(second)), other_counts)[hit], at[hit]] = 1.0
    shared = (ones @ other.T).astype(np.float64)  # exact: counts of a few hundred at most
    union = counts[:, None] + other_counts[None, :] - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
