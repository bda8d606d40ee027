"""Stories as events: items that report the same happening, clustered from their words and dates.

A ``related:`` list is not an event (judged blind, about half the pairs inside one list are
different events), so it is one signal among others here, never a rule. Two items are linked
when they were published within ``WINDOW_DAYS`` of each other and their words agree: the Jaccard
similarity of their analyzed title-and-excerpt terms, or 0.8 x that of their titles alone, is at
least ``THRESHOLD`` (``RELATED_THRESHOLD`` when one's first ``related:`` list is the other, or
both are first listed by one article). Links merge into stories strongest first, and a merge
needs the two groups to agree on average (average link), which keeps one broad word from
chaining unrelated events. A story is named by its earliest item, so it stays put as it grows.

Every pair that can link is found exactly, never sampled (``indexer.event_links``). The result is
a pure function of the items: the same items give the same stories in any order or numbering
(ties are broken by a hash of the item's key), so an update and a full build agree.

A collection whose words are so alike that finding its links would take longer than a build
should (more than ``BUDGET`` candidate pairs per item: word salad from a small vocabulary) falls
back to *near-duplicates* (``NEAR_DUPLICATES``: copies and reposts, whose words are 80% alike),
and only if even those are too many to find, to every item alone. A full build chooses the mode;
updates keep it (persisted), so an update still equals a full build in that mode.

Stories only form inside a *linked group* (items joined by links, whatever the merges decided),
and a group's stories depend on its items alone. An update therefore recomputes only the groups
its changed items were in or now link to (``indexer.stories``), and keeps every other story.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .event_links import (
    TITLE_WEIGHT,
    WINDOW_DAYS,
    WINDOW_US,
    Bars,
    Items,
    Sets,
    links,
    planned,
    plans,
)
from .group_sums import CrossSums

__all__ = ["TITLE_WEIGHT", "WINDOW_DAYS", "WINDOW_US", "Items", "Sets", "Stories", "cluster", "key_hash", "stories_of"]

THRESHOLD = 0.4  # chosen on the tuning half of eval/data/event_pairs.jsonl (docs/relevance.md)
RELATED_THRESHOLD = 0.35  # a related: list lowers the bar a little: lower, it chained events (tuning half)
NEAR_DUPLICATES = 0.8  # the fallback for a collection too broad for events: copies, not events
AVERAGE_LINK = 0.8  # two groups merge when their mean similarity is at least this x the bar their link passed
NUMPY_MEAN = 256  # groups with more cross pairs than this are compared in numpy
BUDGET = 200  # candidate pairs per item a full clustering may enumerate in a mode (see cluster)

EVENTS, NEAR, OFF = "events", "near-duplicates", "off"  # a collection's mode, tried in this order


def bars(mode: str) -> Bars:
    """The bars a pair passes to link in a mode."""
    if mode == NEAR:
        return Bars(NEAR_DUPLICATES, NEAR_DUPLICATES)
    return Bars(THRESHOLD, RELATED_THRESHOLD)


@dataclass(frozen=True)
class Stories:
    """Each item's story and linked group, both named by the number of their earliest item."""

    story: np.ndarray  # int32: the earliest item of its story (itself when alone)
    group: np.ndarray  # int32: the earliest item of its linked group (what an update recomputes)
    mode: str = EVENTS  # NEAR: only near-duplicates were linked; OFF: every item alone (see cluster)


def alone(n: int, mode: str = OFF) -> Stories:
    """Every item in a story of its own."""
    return Stories(np.arange(n, dtype=np.int32), np.arange(n, dtype=np.int32), mode)


def cluster(items: Items, mode: str | None = None) -> Stories:
    """Every item's story: in ``mode``, or (a full build) in the first mode within ``BUDGET``.

    The 103k-item word-salad benchmark corpus would enumerate 750 candidate pairs per item for
    events (1% of its same-week pairs are alike enough to link: hours of work, and noise), 44
    for near-duplicates; the 103k-item news-like one 48 for events.
    """
    scope = np.flatnonzero(items.published >= 0)
    for tried in (mode,) if mode is not None else (EVENTS, NEAR):
        if tried == OFF:
            break
        found = plans(items, scope, bars(tried))
        if mode is None and planned(found) > BUDGET * len(scope):
            continue
        a, b, score = links(items, bars(tried), found)
        return _merge(items, a, b, score, bars(tried), tried)
    return alone(len(items))


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


# -- stories: links merged strongest first, by average link -------------------------------------


def _merge(items: Items, a: np.ndarray, b: np.ndarray, score: np.ndarray, bars: Bars, mode: str) -> Stories:
    """Stories of the items from their links (an item with none stays alone)."""
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

    known = dict(zip(zip(a.tolist(), b.tolist(), strict=True), score.tolist(), strict=True))  # a < b

    def similarity(x: int, y: int) -> float:
        found = known.get((x, y) if x < y else (y, x))  # a link's score: the same number computed again
        if found is not None:
            return found
        (wx, tx), (wy, ty) = words(x), words(y)
        return max(_jaccard_sets(wx, wy), TITLE_WEIGHT * _jaccard_sets(tx, ty))

    hashes = items.key_hash
    refused: set[tuple[int, int, int, int, float]] = set()  # groups found too unlike: unchanged, they stay so
    sums = CrossSums(items)
    for k in order.tolist():
        x, y, s = int(lo[k]), int(hi[k]), float(score[k])
        gx, gy = find(linked, x), find(linked, y)
        if gx != gy:
            linked[max(gx, gy)] = min(gx, gy)
        rx, ry = find(parent, x), find(parent, y)
        if rx == ry:
            continue
        left, right = members.get(rx, [rx]), members.get(ry, [ry])
        bar = bars.threshold if s >= bars.threshold else bars.related  # the bar this link passed
        state = (rx, ry, len(left), len(right), bar)
        if state in refused:
            continue
        if len(left) == len(right) == 1:
            mean = s  # two lone items: their link's own similarity
        elif len(left) * len(right) <= NUMPY_MEAN:
            mean = sum(similarity(p, q) for p in left for q in right) / (len(left) * len(right))
        else:
            mean = sums.total(rx, left, ry, right) / (len(left) * len(right))
        if mean < AVERAGE_LINK * bar:
            refused.add(state)
            continue
        # a group's list only grows at its end, so sums kept for either name stay valid; the larger
        # keeps its name, whose sums are the more to reuse (ties: the smaller key hash of the first member)
        keep, drop = (rx, ry) if (-len(left), int(hashes[rx])) < (-len(right), int(hashes[ry])) else (ry, rx)
        parent[drop] = keep
        members.setdefault(keep, [keep]).extend(members.pop(drop, [drop]))
    for table, out in ((parent, story), (linked, group)):  # each named by its earliest (ties: smaller key hash)
        if not table:
            continue
        held = np.fromiter(table, dtype=np.int64, count=len(table))
        tops = np.fromiter((find(table, x) for x in held.tolist()), dtype=np.int64, count=len(held))
        everyone, root = np.concatenate([held, tops]), np.concatenate([tops, tops])
        order = np.lexsort((items.key_hash[everyone], items.published[everyone], root))
        everyone, root = everyone[order], root[order]
        first = np.flatnonzero(np.concatenate(([True], root[1:] != root[:-1])))
        out[everyone] = np.repeat(everyone[first], np.diff(np.append(first, len(everyone))))
    return Stories(story, group, mode)


def _jaccard_sets(x: frozenset, y: frozenset) -> float:
    shared = len(x & y)
    return shared / (len(x) + len(y) - shared) if x and y else 0.0
