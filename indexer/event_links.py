"""Every pair of items whose words agree enough to link, found exactly (``indexer.events`` merges them).

A pair of Jaccard >= t shares a term among the rarest ``|x| - ceil(t |x|) + 1`` of each item
(prefix filtering), so candidates come from those terms' lists, within the time window. Three
exact filters then drop pairs that cannot reach the bar, cheapest first, before the few left are
checked term by term:

- *positional*: terms are in one global order (rarest first), so a pair whose first shared term
  is at ``i`` in x and ``j`` in y shares at most ``1 + min(|x| - 1 - i, |y| - 1 - j)`` terms;
- *size*: Jaccard is at most ``smaller / larger``;
- *bins*: each item's terms hashed into 256 bins, one bit per occupied bin plus a count of the
  terms that fell in an occupied bin; two items share at most ``popcount(x & y) + min(extra)``
  terms. Word by word checks cost a binary search per term; this is four ANDs.

Whether a pair links depends on the two items alone (their words, dates and lists) and the
level's bars, never on other items: an update that re-checks a neighbourhood agrees with a full
build. ``planned`` says how many candidates a level would enumerate, before any of the work.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .schema import DAY_US

WINDOW_DAYS = 7.0
WINDOW_US = int(WINDOW_DAYS * DAY_US)  # published dates are Whoosh longs: microseconds
TITLE_WEIGHT = 0.8  # a pair's similarity: max(Jaccard of words, this x Jaccard of titles)
_EPSILON = 1e-9  # ceil(0.35 * 20) is 8 in floating point: round the needed overlap down, never up
CHUNK_PAIRS = 2_000_000  # candidate pairs enumerated at a time: memory stays bounded however many there are
_BIN_WORDS = 4  # 4 x 64 = 256 bins


@dataclass(frozen=True)
class Sets:
    """One set of term numbers per item, as flat arrays: item i's are ``ids[starts[i]:starts[i+1]]``, ascending."""

    starts: np.ndarray  # int64, items + 1
    ids: np.ndarray  # int64

    @classmethod
    def of(cls, items: np.ndarray, terms: np.ndarray, count: int) -> Sets:
        """From (item, term) pairs in any order, duplicates allowed."""
        items, terms = np.asarray(items, dtype=np.int64), np.asarray(terms, dtype=np.int64)
        width = int(terms.max()) + 1 if len(terms) else 1
        codes = distinct(items * width + terms)  # sorted by item, then term
        items, terms = codes // width, codes % width
        starts = np.zeros(count + 1, dtype=np.int64)
        starts[1:] = np.cumsum(np.bincount(items, minlength=count))
        return cls(starts, terms)

    @classmethod
    def of_strings(cls, rows: list[Iterable[str]]) -> Sets:
        """From one collection of terms per item (numbered among themselves)."""
        number: dict[str, int] = {}
        items = [i for i, row in enumerate(rows) for _ in row]
        terms = [number.setdefault(t, len(number)) for row in rows for t in row]
        return cls.of(np.asarray(items, dtype=np.int64), np.asarray(terms, dtype=np.int64), len(rows))

    def sizes(self) -> np.ndarray:
        return np.diff(self.starts)

    @functools.cached_property
    def width(self) -> int:
        return int(self.ids.max()) + 1 if len(self.ids) else 1

    @functools.cached_property
    def codes(self) -> np.ndarray:
        """``item * width + term`` of every entry: ascending, so membership is one ``searchsorted``."""
        return np.repeat(np.arange(len(self.starts) - 1, dtype=np.int64), self.sizes()) * self.width + self.ids

    @functools.cached_property
    def bins(self) -> tuple[np.ndarray, np.ndarray]:
        """(occupied bins as ``_BIN_WORDS`` uint64 per item, terms beyond the first in a bin per item)."""
        count = len(self.starts) - 1
        item = np.repeat(np.arange(count, dtype=np.int64), self.sizes())
        spread = (self.ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(56)  # 0..255
        cell = distinct(item * 256 + spread.astype(np.int64))
        extra = np.bincount(item, minlength=count) - np.bincount(cell // 256, minlength=count)
        bits = np.zeros(count * _BIN_WORDS, dtype=np.uint64)
        word, bit = (cell // 256) * _BIN_WORDS + (cell % 256) // 64, (cell % 64).astype(np.uint64)
        np.bitwise_or.at(bits, word, np.left_shift(np.uint64(1), bit))
        return bits.reshape(count, _BIN_WORDS), extra

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.starts[i] : self.starts[i + 1]]


@dataclass(frozen=True)
class Items:
    """What clustering reads of a collection: one row per item (a deleted document has no terms)."""

    published: np.ndarray  # int64 microseconds (negative: undated, never linked)
    key_hash: np.ndarray  # int64 hash of the item's key: breaks ties the same way in every build
    list_hash: np.ndarray  # int64 hash of the first article listing it (its own key when none lists it)
    words: Sets  # analyzed title-and-excerpt terms
    title_words: Sets  # analyzed title terms

    def __len__(self) -> int:
        return len(self.published)


@dataclass(frozen=True)
class Bars:
    """A pair links when its similarity reaches ``threshold``, or ``related`` when a related: list joins them."""

    threshold: float
    related: float

    @property
    def words(self) -> float:  # no pair links below this on its words ...
        return min(self.threshold, self.related)

    @property
    def titles(self) -> float:  # ... or on its titles
        return self.words / TITLE_WEIGHT


Plan = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]


def plans(items: Items, scope: np.ndarray, bars: Bars) -> list[Plan]:
    """The candidate enumeration of ``scope`` on words and on titles (see ``_prefix_pairs``)."""
    kinds = ((items.words, bars.words), (items.title_words, bars.titles))
    return [plan for sets, bar in kinds if (plan := _prefix_pairs(sets, scope, items.published, bar)) is not None]


def planned(found: list[Plan]) -> int:
    """How many candidate pairs the plans enumerate (before the filters)."""
    return sum(int(plan[2].sum()) for plan in found)


def links(items: Items, bars: Bars, found: list[Plan]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, similarity) of every linked pair the plans hold, first < second."""
    n = len(items)
    found_codes, found_scores = [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
    for codes in (codes for plan in found for codes in _chunks(*plan, n)):
        a, b = codes // n, codes % n
        together = (
            (items.list_hash[a] == items.list_hash[b])
            | (items.list_hash[a] == items.key_hash[b])
            | (items.key_hash[a] == items.list_hash[b])
        )
        bar = np.where(together, min(bars.related, bars.threshold), bars.threshold)
        keep = np.abs(items.published[a] - items.published[b]) <= WINDOW_US
        keep &= _may_reach(items.words, a, b, bar) | _may_reach(items.title_words, a, b, bar / TITLE_WEIGHT)
        a, b, codes, bar = a[keep], b[keep], codes[keep], bar[keep]
        score = similarities(items, a, b)
        linked = score >= bar
        found_codes.append(codes[linked])
        found_scores.append(score[linked])
    codes, first = np.unique(np.concatenate(found_codes), return_index=True)
    return codes // n, codes % n, np.concatenate(found_scores)[first]


def _may_reach(sets: Sets, a: np.ndarray, b: np.ndarray, bar: np.ndarray) -> np.ndarray:
    """Whether items ``a[k]`` and ``b[k]`` may have Jaccard >= ``bar[k]`` (size and bin filters: exact bounds)."""
    sizes = sets.sizes()
    sa, sb = sizes[a], sizes[b]
    keep = (np.minimum(sa, sb) >= bar * np.maximum(sa, sb) - _EPSILON) & (np.minimum(sa, sb) > 0)
    need = np.ceil(bar / (1 + bar) * (sa + sb) - _EPSILON)  # shared terms Jaccard >= bar needs
    at = np.flatnonzero(keep)
    bits, extra = sets.bins
    shared = popcount(bits[a[at]] & bits[b[at]])
    keep[at] = shared + np.minimum(extra[a[at]], extra[b[at]]) >= need[at]
    return keep


_BYTE_BITS = np.asarray([bin(k).count("1") for k in range(256)], dtype=np.int64)


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per row of uint64 words (numpy 2's ``bitwise_count``; numpy 1.26, which the project allows: bytes)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    return _BYTE_BITS[np.ascontiguousarray(words).view(np.uint8)].sum(axis=1)


def similarities(items: Items, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How much the words of items ``a[k]`` and ``b[k]`` agree (0..1)."""
    return np.maximum(_jaccard(items.words, a, b), TITLE_WEIGHT * _jaccard(items.title_words, a, b))


def _jaccard(sets: Sets, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sizes = sets.sizes()
    if len(a) == 0:
        return np.zeros(0)
    codes, width = sets.codes, sets.width
    small = np.where(sizes[a] <= sizes[b], a, b)  # look the smaller set's terms up in the other
    other = np.where(sizes[a] <= sizes[b], b, a)
    counts = sizes[small]
    pair = np.repeat(np.arange(len(a)), counts)
    at = ranges(sets.starts[small], counts)
    wanted = other[pair] * width + sets.ids[at]
    found = np.searchsorted(codes, wanted)
    hit = codes[np.minimum(found, len(codes) - 1)] == wanted if len(codes) else np.zeros(0, dtype=bool)
    shared = np.bincount(pair, weights=hit, minlength=len(a))
    union = sizes[a] + sizes[b] - shared
    return np.divide(shared, union, out=np.zeros(len(a)), where=union > 0)


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending (a sort: numpy 2's hashing ``unique`` is several times slower here).

    Timsort ("stable"): the values here mostly come in ascending runs (item by item, or term by term),
    which it merges instead of sorting afresh: ~4x numpy's default sort on such input, ~10% slower on random.
    """
    values = np.sort(values, kind="stable")
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(starts[k], starts[k] + counts[k])``."""
    total = int(counts.sum())
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(total, dtype=np.int64)


def _prefix_pairs(sets: Sets, scope: np.ndarray, published: np.ndarray, bar: float) -> Plan | None:
    """Prefix entries by term then time: (items, key, later, place, sizes, bar), or None.

    ``later``: how many later entries of the same term are within the window (+1 minute) of each;
    ``place``: the entry's term's place in its item, rarest first.

    Terms are ordered rarest first (ties by number) among the scope; a pair of Jaccard >= ``bar``
    shares a term among the first ``|x| - ceil(bar |x|) + 1`` of each (prefix filtering).
    """
    sizes = sets.sizes()
    scope = scope[sizes[scope] > 0]
    if len(scope) < 2:
        return None
    counts = sizes[scope]
    item = np.repeat(scope, counts)
    terms = sets.ids[ranges(sets.starts[scope], counts)]
    df = np.bincount(terms)
    by_rarity = np.lexsort((np.arange(len(df)), df))  # the global order: rarest first, ties by number
    rank = np.empty(len(df), dtype=np.int64)
    rank[by_rarity] = np.arange(len(df))
    # one sort of numbers (several times a lexsort's speed), item by item already: timsort merges the runs
    ordered = np.sort(item * len(df) + rank[terms], kind="stable")
    item, terms = ordered // len(df), by_rarity[ordered % len(df)]
    place = np.arange(len(item)) - np.repeat(np.cumsum(counts) - counts, counts)
    prefix = counts - np.ceil(bar * counts - _EPSILON).astype(np.int64) + 1
    keep = place < np.repeat(prefix, counts)
    item, terms, place = item[keep], terms[keep], place[keep]
    minutes = (published[item] - published[scope].min()) // 60_000_000
    span = int(minutes.max()) + WINDOW_US // 60_000_000 + 2
    key = terms * span + minutes
    # ties in any order: the pairs enumerated are the same; timsort: terms come in runs within each item
    order = np.argsort(key, kind="stable")
    key, item, place = key[order], item[order], place[order]
    end = np.searchsorted(key, key + WINDOW_US // 60_000_000 + 1, side="left")
    return item, key, end - np.arange(len(key)) - 1, place, sizes, bar


def _chunks(
    item: np.ndarray, key: np.ndarray, later: np.ndarray, place: np.ndarray, sizes: np.ndarray, bar: float, n: int
) -> Iterator[np.ndarray]:
    """Codes ``a * n + b`` (a < b) of the candidate pairs, at most about ``CHUNK_PAIRS`` at a time.

    Positional filter: a pair that can link passes it at its first shared term, so keeping the
    pairs that pass it at any shared prefix term loses none.
    """
    total = np.cumsum(later)
    start = 0
    while start < len(key):
        stop = max(start + 1, int(np.searchsorted(total, (total[start] - later[start]) + CHUNK_PAIRS, side="right")))
        positions = np.arange(start, stop)
        first = np.repeat(positions, later[start:stop])
        second = ranges(positions + 1, later[start:stop])
        x, y = item[first], item[second]
        sx, sy = sizes[x], sizes[y]
        bound = 1 + np.minimum(sx - 1 - place[first], sy - 1 - place[second])
        keep = (x != y) & (bound >= np.ceil(bar / (1 + bar) * (sx + sy) - _EPSILON))
        x, y = x[keep], y[keep]
        yield distinct(np.minimum(x, y) * n + np.maximum(x, y))
        start = stop
