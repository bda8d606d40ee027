"""Stories as events: items that report the same happening, clustered from their words and dates.

A ``related:`` list is not an event (judged blind, about half the pairs inside one list are
different events), so it is one signal among others here, never a rule. Two items are linked
when they were published within ``WINDOW_DAYS`` of each other and their words agree: the Jaccard
similarity of their analyzed title-and-excerpt terms, or 0.8 x that of their titles alone, is at
least ``THRESHOLD`` (``RELATED_THRESHOLD`` when one lists the other, or both are listed together).
Candidates come from MinHash banding (datasketch), so no pair of the collection is compared
unless the two share enough words; links merge into stories strongest first, and a merge needs
the two groups to agree on average (average link), which keeps one broad word from chaining
unrelated events. A story's id is its earliest item's key, so it stays put as the story grows.

Everything is a pure function of the items: the same items give the same stories, whatever the
order they come in (an incremental update and a full build agree).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from datasketch import MinHash

WINDOW_DAYS = 7.0
THRESHOLD = 0.4  # chosen on the tuning half of eval/data/event_pairs.jsonl (docs/relevance.md)
RELATED_THRESHOLD = 0.35  # a related: list lowers the bar a little: lower, it chained events (tuning half)
TITLE_WEIGHT = 0.8
AVERAGE_LINK = 0.8  # two groups merge when their mean similarity is at least this x THRESHOLD
PERMUTATIONS, BAND_ROWS = 64, 2  # 32 bands of 2 rows: pairs of Jaccard 0.35 collide with p > 0.98


@dataclass(frozen=True)
class EventItem:
    """What clustering reads of a document."""

    key: str
    published: dt.datetime | None
    words: frozenset[str]  # analyzed title and excerpt terms
    title_words: frozenset[str]  # analyzed title terms
    lists: frozenset[str]  # the related: lists it is in (its parents), and its own key


def similarity(a: EventItem, b: EventItem) -> float:
    """How much two items' words agree (0..1)."""
    return max(_jaccard(a.words, b.words), TITLE_WEIGHT * _jaccard(a.title_words, b.title_words))


def link(a: EventItem, b: EventItem) -> float | None:
    """The similarity of two items when they are reports of one event, else None."""
    if a.published is None or b.published is None:
        return None
    if abs((a.published - b.published).total_seconds()) > WINDOW_DAYS * 86_400:
        return None
    score = similarity(a, b)
    together = bool(a.lists & b.lists)
    return score if score >= THRESHOLD or (together and score >= RELATED_THRESHOLD) else None


def stories(items: Iterable[EventItem]) -> dict[str, str]:
    """Each item's story id: the key of the earliest item of its event."""
    items = sorted(items, key=lambda i: i.key)
    position = {item.key: n for n, item in enumerate(items)}
    edges = sorted((-score, a.key, b.key) for a, b in _candidates(items) if (score := link(a, b)) is not None)
    group = list(range(len(items)))  # union-find over positions
    members: dict[int, list[int]] = {n: [n] for n in range(len(items))}

    def find(n: int) -> int:
        while group[n] != n:
            group[n] = group[group[n]]
            n = group[n]
        return n

    for negative, ka, kb in edges:
        ra, rb = find(position[ka]), find(position[kb])
        if ra == rb:
            continue
        left, right = members[ra], members[rb]
        mean = sum(similarity(items[x], items[y]) for x in left for y in right) / (len(left) * len(right))
        bar = THRESHOLD if -negative >= THRESHOLD else RELATED_THRESHOLD  # the bar this link passed
        if mean < AVERAGE_LINK * bar:
            continue
        keep, drop = (ra, rb) if ra < rb else (rb, ra)
        group[drop] = keep
        members[keep] = sorted(members[keep] + members.pop(drop))
    story: dict[str, str] = {}
    for group_members in members.values():
        earliest = min((items[n] for n in group_members), key=_age)
        for n in group_members:
            story[items[n].key] = earliest.key
    return story


def _age(item: EventItem) -> tuple:
    return (item.published is None, item.published or dt.datetime.min, item.key)


def _jaccard(x: frozenset[str], y: frozenset[str]) -> float:
    return len(x & y) / len(x | y) if x and y else 0.0


def _candidates(items: list[EventItem]) -> set[tuple[EventItem, EventItem]]:
    """Pairs sharing a MinHash band of their words or of their title words (both in key order)."""
    buckets: dict[bytes, list[int]] = defaultdict(list)
    for kind, words_of in enumerate((lambda i: i.words, lambda i: i.title_words)):
        sets = [sorted(words_of(item)) for item in items]
        hashes = MinHash.bulk([[w.encode() for w in s] for s in sets], num_perm=PERMUTATIONS, seed=1)
        for n, (minhash, words) in enumerate(zip(hashes, sets, strict=True)):
            if not words:
                continue
            values = minhash.hashvalues
            for band in range(0, PERMUTATIONS, BAND_ROWS):
                digest = hashlib.blake2b(values[band : band + BAND_ROWS].tobytes(), digest_size=8).digest()
                buckets[bytes([kind, band]) + digest].append(n)
    pairs = set()
    for members in buckets.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pairs.add((items[members[x]], items[members[y]]))  # members ascend: key order
    return pairs
