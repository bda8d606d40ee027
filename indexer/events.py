"""Stories as events: items that report the same happening, clustered from their words and dates.

A ``related:`` list is not an event (judged blind, about half the pairs inside one list are
different events), so it is one signal among others here, never a rule. Two items are linked
when they were published within ``WINDOW_DAYS`` of each other and their words agree: the Jaccard
similarity of their analyzed title-and-excerpt terms, or 0.8 x that of their titles alone, is at
least ``THRESHOLD`` (``RELATED_THRESHOLD`` when one's first ``related:`` list is the other, or
both are first listed by one article). Links merge into stories strongest first, and a merge
needs the two groups to agree on average (average link), which keeps one broad word from
chaining unrelated events. A story is named by its earliest item, so it stays put as it grows.

Every pair that can link is found exactly, never sampled: a pair of Jaccard >= t shares a term
among the rarest ``|x| - ceil(t |x|) + 1`` of each item (prefix filtering), so candidates come
from those terms' lists, within the time window, and every candidate is checked exactly. The
result is a pure function of the items: the same items give the same stories in any order or
numbering (ties are broken by a hash of the item's key), so an update and a full build agree.

Stories only form inside a *linked group* (items joined by links, whatever the merges decided),
and a group's stories depend on its items alone. An update therefore recomputes only the groups
its changed items were in or now link to (``recluster``), and keeps every other story.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

WINDOW_DAYS = 7.0
THRESHOLD = 0.4  # chosen on the tuning half of eval/data/event_pairs.jsonl (docs/relevance.md)
RELATED_THRESHOLD = 0.35  # a related: list lowers the bar a little: lower, it chained events (tuning half)
TITLE_WEIGHT = 0.8
AVERAGE_LINK = 0.8  # two groups merge when their mean similarity is at least this x THRESHOLD
WINDOW_US = int(WINDOW_DAYS * 86_400 * 1_000_000)  # published dates are Whoosh longs: microseconds
WORDS_BAR = RELATED_THRESHOLD  # no pair links below this on its words ...
TITLE_BAR = RELATED_THRESHOLD / TITLE_WEIGHT  # ... or on its titles
_EPSILON = 1e-9  # ceil(0.35 * 20) is 8 in floating point: round the needed overlap down, never up
CHUNK_PAIRS = 2_000_000  # candidate pairs checked at a time: memory stays bounded however many there are
NUMPY_MEAN = 256  # groups with more cross pairs than this are compared in numpy
BUDGET = 200  # candidate pairs per item a full clustering may check; beyond it, stories are off (see cluster)


class TooBroad(Exception):
    """The collection's words are too alike for clustering to finish in a build's time."""


@dataclass(frozen=True)
class Sets:
    """One set of term numbers per item, as flat arrays: item i's are ``ids[starts[i]:starts[i+1]]``, ascending."""

    starts: np.ndarray  # int64, items + 1
    ids: np.ndarray  # int64

    @classmethod
    def of(cls, items: np.ndarray, terms: np.ndarray, count: int) -> Sets:
        """From (item, term) pairs in any order, duplicates allowed."""
        items, terms = np.asarray(items, dtype=np.int64), np.asarray(terms, dtype=np.int64)
        order = np.lexsort((terms, items))
        items, terms = items[order], terms[order]
        keep = np.ones(len(items), dtype=bool)
        keep[1:] = (items[1:] != items[:-1]) | (terms[1:] != terms[:-1])
        items, terms = items[keep], terms[keep]
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
class Stories:
    """Each item's story and linked group, both named by the number of their earliest item."""

    story: np.ndarray  # int32: the earliest item of its story (itself when alone)
    group: np.ndarray  # int32: the earliest item of its linked group (what an update recomputes)
    clustered: bool = True  # False: the collection was too broad to cluster (every item alone)


def cluster(items: Items, budget: bool = True) -> Stories:
    """Every item's story (a full build).

    With ``budget``, a collection whose items share so many words that more than ``BUDGET``
    candidate pairs per item would be checked (the 103k-item synthetic benchmark corpus, word salad
    from a small vocabulary: 750 per item, 1% of same-week pairs alike enough to link) is not
    clustered: every item stays alone and ``clustered`` says so, rather than a build taking hours.
    """
    scope = np.flatnonzero(items.published >= 0)
    try:
        a, b, score = _links(items, scope, BUDGET * len(scope) if budget else None)
    except TooBroad:
        alone = np.arange(len(items), dtype=np.int32)
        return Stories(alone, alone.copy(), clustered=False)
    return _merge(items, a, b, score, np.arange(len(items)))


def stories_of(rows: list[tuple[str, int, str, str, str]], analyze: Callable[[str], Iterable[str]]) -> dict[str, str]:
    """Each key's story key, from (key, published microseconds, title, excerpt, first list key) rows (tests, eval)."""
    items = Items(
        published=np.asarray([r[1] for r in rows], dtype=np.int64),
        key_hash=np.asarray([key_hash(r[0]) for r in rows], dtype=np.int64),
        list_hash=np.asarray([key_hash(r[4]) for r in rows], dtype=np.int64),
        words=Sets.of_strings([analyze(f"{r[2]} {r[3]}") for r in rows]),
        title_words=Sets.of_strings([analyze(r[2]) for r in rows]),
    )
    found = cluster(items)
    return {r[0]: rows[int(found.story[i])][0] for i, r in enumerate(rows)}


def key_hash(key: str) -> int:
    """A 63-bit number per key (the index's ``key_hash`` column): collisions about 1e-10 at 100k items."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") >> 1


# -- links: every pair that can link, found exactly ---------------------------------------------


def _links(items: Items, scope: np.ndarray, budget: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, similarity) of every linked pair among ``scope`` (dated items), first < second."""
    n = len(items)
    words, titles = items.words.sizes(), items.title_words.sizes()
    found_codes, found_scores = [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
    kinds = [(items.words, WORDS_BAR), (items.title_words, TITLE_BAR)]
    plans = [_prefix_pairs(sets, scope, items.published, bar) for sets, bar in kinds]
    if budget is not None and sum(int(plan[2].sum()) for plan in plans if plan) > budget:
        raise TooBroad
    for codes in (codes for plan in plans if plan for codes in _chunks(*plan, n)):
        a, b = codes // n, codes % n
        # close in time, and sizes that allow the bar (Jaccard <= smaller / larger)
        keep = np.abs(items.published[a] - items.published[b]) <= WINDOW_US
        keep &= (np.minimum(words[a], words[b]) >= WORDS_BAR * np.maximum(words[a], words[b]) - _EPSILON) | (
            np.minimum(titles[a], titles[b]) >= TITLE_BAR * np.maximum(titles[a], titles[b]) - _EPSILON
        )
        a, b, codes = a[keep], b[keep], codes[keep]
        score = similarities(items, a, b)
        together = (
            (items.list_hash[a] == items.list_hash[b])
            | (items.list_hash[a] == items.key_hash[b])
            | (items.key_hash[a] == items.list_hash[b])
        )
        linked = (score >= THRESHOLD) | (together & (score >= RELATED_THRESHOLD))
        found_codes.append(codes[linked])
        found_scores.append(score[linked])
    codes, first = np.unique(np.concatenate(found_codes), return_index=True)
    return codes // n, codes % n, np.concatenate(found_scores)[first]


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
    at = _ranges(sets.starts[small], counts)
    wanted = other[pair] * width + sets.ids[at]
    found = np.searchsorted(codes, wanted)
    hit = codes[np.minimum(found, len(codes) - 1)] == wanted if len(codes) else np.zeros(0, dtype=bool)
    shared = np.bincount(pair, weights=hit, minlength=len(a))
    union = sizes[a] + sizes[b] - shared
    return np.divide(shared, union, out=np.zeros(len(a)), where=union > 0)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(starts[k], starts[k] + counts[k])``."""
    total = int(counts.sum())
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(total, dtype=np.int64)


def _prefix_pairs(
    sets: Sets, scope: np.ndarray, published: np.ndarray, bar: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Prefix entries by term then time: (items, key, later entries each pairs with), or None.

    ``later``: how many later entries of the same term are within the window (+1 minute) of each.

    Terms are ordered rarest first (ties by number) among the scope; a pair of Jaccard >= ``bar``
    shares a term among the first ``|x| - ceil(bar |x|) + 1`` of each (prefix filtering).
    """
    sizes = sets.sizes()
    scope = scope[sizes[scope] > 0]
    if len(scope) < 2:
        return None
    counts = sizes[scope]
    item = np.repeat(scope, counts)
    terms = sets.ids[_ranges(sets.starts[scope], counts)]
    df = np.bincount(terms)
    order = np.lexsort((terms, df[terms], item))
    item, terms = item[order], terms[order]
    place = np.arange(len(item)) - np.repeat(np.cumsum(counts) - counts, counts)
    prefix = counts - np.ceil(bar * counts - _EPSILON).astype(np.int64) + 1
    keep = place < np.repeat(prefix, counts)
    item, terms = item[keep], terms[keep]
    minutes = (published[item] - published[scope].min()) // 60_000_000
    span = int(minutes.max()) + WINDOW_US // 60_000_000 + 2
    key = terms * span + minutes
    order = np.argsort(key, kind="stable")
    key, item = key[order], item[order]
    end = np.searchsorted(key, key + WINDOW_US // 60_000_000 + 1, side="left")
    return item, key, end - np.arange(len(key)) - 1


def _chunks(item: np.ndarray, key: np.ndarray, later: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """Codes ``a * n + b`` (a < b) of the candidate pairs, at most about ``CHUNK_PAIRS`` at a time."""
    total = np.cumsum(later)
    start = 0
    while start < len(key):
        stop = max(start + 1, int(np.searchsorted(total, (total[start] - later[start]) + CHUNK_PAIRS, side="right")))
        positions = np.arange(start, stop)
        first = np.repeat(positions, later[start:stop])
        second = _ranges(positions + 1, later[start:stop])
        x, y = item[first], item[second]
        codes = np.minimum(x, y) * n + np.maximum(x, y)
        yield np.unique(codes[x != y])
        start = stop


# -- stories: links merged strongest first, by average link -------------------------------------


def _merge(items: Items, a: np.ndarray, b: np.ndarray, score: np.ndarray, scope: np.ndarray) -> Stories:
    """Stories of the items in ``scope`` from their links (every other item stays alone)."""
    n = len(items)
    story = np.arange(n, dtype=np.int32)
    group = np.arange(n, dtype=np.int32)
    # the pair's items by key hash, as a full build of the same items in any numbering orders them
    lo = np.where(items.key_hash[a] <= items.key_hash[b], a, b)
    hi = np.where(items.key_hash[a] <= items.key_hash[b], b, a)
    order = np.lexsort((items.key_hash[hi], items.key_hash[lo], -score))
    parent: dict[int, int] = {}
    linked: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    sets: dict[int, tuple[frozenset, frozenset]] = {}

    def find(table: dict[int, int], x: int) -> int:
        while table.get(x, x) != x:
            table[x] = table.get(table[x], table[x])
            x = table[x]
        return x

    def words(x: int) -> tuple[frozenset, frozenset]:
        if x not in sets:
            sets[x] = (frozenset(items.words.row(x).tolist()), frozenset(items.title_words.row(x).tolist()))
        return sets[x]

    def similarity(x: int, y: int) -> float:
        (wx, tx), (wy, ty) = words(x), words(y)
        return max(_jaccard_sets(wx, wy), TITLE_WEIGHT * _jaccard_sets(tx, ty))

    hashes = items.key_hash
    refused: set[tuple[int, int, int, int, float]] = set()  # groups found too unlike: unchanged, they stay so
    for k in order.tolist():
        x, y, s = int(lo[k]), int(hi[k]), float(score[k])
        gx, gy = find(linked, x), find(linked, y)
        if gx != gy:
            linked[max(gx, gy)] = min(gx, gy)
        rx, ry = find(parent, x), find(parent, y)
        if rx == ry:
            continue
        left, right = members.get(rx, [rx]), members.get(ry, [ry])
        bar = THRESHOLD if s >= THRESHOLD else RELATED_THRESHOLD  # the bar this link passed
        state = (rx, ry, len(left), len(right), bar)
        if state in refused:
            continue
        if len(left) * len(right) <= NUMPY_MEAN:
            mean = sum(similarity(p, q) for p in left for q in right) / (len(left) * len(right))
        else:
            cross_a = np.repeat(np.asarray(left, dtype=np.int64), len(right))
            cross_b = np.tile(np.asarray(right, dtype=np.int64), len(left))
            mean = float(similarities(items, cross_a, cross_b).sum()) / (len(left) * len(right))
        if mean < AVERAGE_LINK * bar:
            refused.add(state)
            continue
        keep, drop = min(rx, ry), max(rx, ry)
        parent[drop] = keep
        members[keep] = sorted(left + right, key=lambda m: int(hashes[m]))
        members.pop(drop, None)
    for table, out in ((parent, story), (linked, group)):
        roots: dict[int, list[int]] = {}
        for x in table:
            roots.setdefault(find(table, x), []).append(x)
        for root, found in roots.items():
            everyone = np.asarray(sorted({root, *found}), dtype=np.int64)
            out[everyone] = _earliest(items, everyone)
    return Stories(story, group)


def _earliest(items: Items, docs: np.ndarray) -> int:
    """The earliest of some dated items (ties: the smaller key hash)."""
    return int(docs[np.lexsort((items.key_hash[docs], items.published[docs]))[0]])


def _jaccard_sets(x: frozenset, y: frozenset) -> float:
    shared = len(x & y)
    return shared / (len(x) + len(y) - shared) if x and y else 0.0
