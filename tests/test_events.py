"""Event clustering: the same items give the same stories in any order; a story is named by its earliest item."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from indexer import event_links, events, group_sums
from indexer.analysis import analyze

DAY = dt.datetime(2021, 1, 10, 12, 0)


def item(key: str, title: str, excerpt: str = "", days: float = 0.0, lists: tuple[str, ...] = ()) -> tuple:
    """A row for ``events.stories_of``: published as microseconds (what the index's dates hold)."""
    when = (DAY + dt.timedelta(days=days) - dt.datetime(1, 1, 1)) // dt.timedelta(microseconds=1)
    return (key, when, title, excerpt, lists[0] if lists else key)


def stories(rows: list[tuple]) -> dict[str, str]:
    return events.stories_of(rows, analyze)


ITEMS = [
    item("b.org/1", "Acme buys Globex for 2 billion dollars", "Acme agreed to buy Globex", days=1),
    item("a.org/1", "Acme to buy Globex in 2 billion dollar deal", "The deal for Globex", days=0),
    item("c.org/1", "Acme buys Globex for 2 billion", "Acme agreed to buy Globex for 2 billion dollars", days=2),
    item("d.org/1", "Globex shares soar", "investors cheered on Tuesday", days=1),
    item("e.org/1", "Acme buys Globex for 2 billion dollars", "Acme agreed to buy Globex", days=30),  # a month on
    item("f.org/1", "Initech unveils robot vacuum", "Initech robot vacuum cleaner", days=1, lists=("a.org/1",)),
]


def test_reports_of_one_event_share_a_story_named_by_the_earliest():
    story = stories(ITEMS)
    assert story["a.org/1"] == story["b.org/1"] == story["c.org/1"] == "a.org/1"
    assert story["e.org/1"] == "e.org/1"  # the same words a month later: another event
    assert story["f.org/1"] == "f.org/1"  # listed beside it, but about something else
    assert story["d.org/1"] != "a.org/1"


def test_stories_do_not_depend_on_the_order_items_come_in():
    expected = stories(ITEMS)
    for seed in range(5):
        shuffled = ITEMS[:]
        random.Random(seed).shuffle(shuffled)
        assert stories(shuffled) == expected


def test_a_related_list_lowers_the_bar_but_never_links_unrelated_words():
    a = item("a.org/2", "Initech robot vacuum reviewed", "a long test of the new cleaner at home", days=0)
    b = ("b.org/2", "Gadget roundup", "Initech robot vacuum cleaner among gadgets tested this week")  # 0.385 alike
    c = ("c.org/2", "Hooli opens an office in Lisbon", "fifty jobs", 1)
    assert stories([a, item(*b, days=1)])["b.org/2"] == "b.org/2"  # words agree too little on their own
    listed = stories([a, item(*b, days=1, lists=("a.org/2",)), item(*c[:3], days=1, lists=("a.org/2",))])
    assert listed["b.org/2"] == "a.org/2"  # listed together and somewhat alike: one event
    assert listed["c.org/2"] == "c.org/2"  # listed together but unlike: not linked by the list alone


def brute_force_links(items: events.Items) -> set[tuple[int, int]]:
    """Every linked pair by checking all pairs one by one, as the module docstring states the rule."""
    bars, found = events.bars(events.EVENTS), set()
    words = [set(items.words.row(i).tolist()) for i in range(len(items))]
    titles = [set(items.title_words.row(i).tolist()) for i in range(len(items))]

    def jaccard(x: set, y: set) -> float:
        return len(x & y) / len(x | y) if x and y else 0.0

    for a in range(len(items)):
        for b in range(a + 1, len(items)):
            if abs(int(items.published[a]) - int(items.published[b])) > events.WINDOW_US:
                continue
            score = max(jaccard(words[a], words[b]), events.TITLE_WEIGHT * jaccard(titles[a], titles[b]))
            # one's first related: list is the other, or one article lists both first
            keys, lists = items.key_hash, items.list_hash
            together = lists[a] == lists[b] or lists[a] == keys[b] or keys[a] == lists[b]
            if score >= bars.threshold or (together and score >= bars.related):
                found.add((a, b))
    return found


def alike_collection(kind: str) -> list[tuple]:
    """400 items over 3 weeks whose words agree near the bars: many pairs for the filters to get wrong.

    ``small``: words drawn from 60 (long shared prefixes); ``templates``: each item one of 30 "events"
    of 15 words with 0-70% of them replaced from 400 (more words than the bin filter's 256 bins).
    """
    rng = random.Random(5)
    vocabulary = [f"w{k}" for k in range(60 if kind == "small" else 400)]
    templates = [rng.sample(vocabulary, 15) for _ in range(30)]
    rows = []
    for k in range(400):
        if kind == "small":
            title, excerpt = rng.sample(vocabulary[:25], rng.randint(2, 8)), rng.sample(vocabulary, rng.randint(2, 22))
        else:
            share = rng.uniform(0, 0.7)
            excerpt = [w if rng.random() > share else rng.choice(vocabulary) for w in rng.choice(templates)]
            title = excerpt[: rng.randint(3, 8)]
        lists = (f"l{rng.randint(0, 40)}.org",) if rng.random() < 0.5 else ()
        rows.append(item(f"k{k}.org", " ".join(title), " ".join(excerpt), days=rng.uniform(0, 21), lists=lists))
    return rows


@pytest.mark.parametrize("kind", ["small", "templates"])
def test_the_candidate_filters_never_drop_a_pair_that_links(kind):
    rows = alike_collection(kind)
    items = events.Items(
        published=np.asarray([r[1] for r in rows], dtype=np.int64),
        key_hash=np.asarray([events.key_hash(r[0]) for r in rows], dtype=np.int64),
        list_hash=np.asarray([events.key_hash(r[4]) for r in rows], dtype=np.int64),
        words=events.Sets.of_strings([f"{r[2]} {r[3]}".split() for r in rows]),
        title_words=events.Sets.of_strings([r[2].split() for r in rows]),
    )
    bars = events.bars(events.EVENTS)
    a, b, _ = event_links.links(items, bars, event_links.plans(items, np.arange(len(items)), bars))
    expected = brute_force_links(items)
    assert len(expected) > 300  # the filters have near misses to get wrong
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == expected


def test_a_collection_too_broad_for_events_keeps_its_near_duplicates(monkeypatch):
    rows = [
        item("a.org/9", "Acme releases DeskSuite 2 for small offices", "press release text of the launch", days=0),
        item("b.org/9", "Acme releases DeskSuite 2 for small offices", "press release text of the launch", days=1),
        item("c.org/9", "Acme DeskSuite 2 reviewed for small offices", "the launch of DeskSuite 2 tested", days=1),
        item("d.org/9", "Globex cuts prices", "Globex prices fall", days=2),
    ]
    assert len(set(stories(rows).values())) == 2  # events: a, b and c are one launch
    items = events.Items(
        published=np.asarray([r[1] for r in rows], dtype=np.int64),
        key_hash=np.asarray([events.key_hash(r[0]) for r in rows], dtype=np.int64),
        list_hash=np.asarray([events.key_hash(r[4]) for r in rows], dtype=np.int64),
        words=events.Sets.of_strings([analyze(f"{r[2]} {r[3]}") for r in rows]),
        title_words=events.Sets.of_strings([analyze(r[2]) for r in rows]),
    )
    scope = np.arange(len(rows))
    wide, near = (
        event_links.planned(event_links.plans(items, scope, events.bars(m))) for m in (events.EVENTS, events.NEAR)
    )
    assert near < wide
    monkeypatch.setattr(events, "BUDGET", (near + wide) / 2 / len(rows))  # events over it, near-duplicates within
    found = events.cluster(items)
    assert found.mode == events.NEAR
    assert found.story.tolist() == [0, 0, 2, 3]  # the two copies of the release, and no more
    monkeypatch.setattr(events, "BUDGET", near / 2 / len(rows))
    assert events.cluster(items).mode == events.OFF and events.cluster(items).story.tolist() == [0, 1, 2, 3]


def test_popcount_counts_the_same_bits_without_numpy_2s_bitwise_count(monkeypatch):
    words = np.random.default_rng(3).integers(0, 2**63, size=(500, 4), dtype=np.uint64) | np.uint64(2**63)
    expected = [sum(bin(int(w)).count("1") for w in row) for row in words]
    assert event_links.popcount(words).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count", raising=False)  # numpy 1.26 (pyproject allows it) has none
    assert event_links.popcount(words).tolist() == expected


def _items_of(rows: list[tuple]) -> events.Items:
    return events.Items(
        published=np.asarray([r[1] for r in rows], dtype=np.int64),
        key_hash=np.asarray([events.key_hash(r[0]) for r in rows], dtype=np.int64),
        list_hash=np.asarray([events.key_hash(r[4]) for r in rows], dtype=np.int64),
        words=events.Sets.of_strings([f"{r[2]} {r[3]}".split() for r in rows]),
        title_words=events.Sets.of_strings([r[2].split() for r in rows]),
    )


def two_topics_and_bridges() -> list[tuple]:
    """200 items on one subject, 50 on another and 30 half on each, over a month: the bridges link the
    two, whose groups are found too unlike again and again as the large one grows."""
    rng = random.Random(3)
    first, second = [f"a{k}" for k in range(20)], [f"b{k}" for k in range(20)]
    rows = []
    for k in range(280):
        words = (
            rng.sample(first, 10)
            if k < 200
            else rng.sample(second, 10)
            if k < 250
            else rng.sample(first, 5) + rng.sample(second, 5)
        )
        rows.append(item(f"k{k}.org", " ".join(words[:4]), " ".join(words), days=rng.uniform(0, 30)))
    return rows


def test_a_group_that_grew_is_compared_again_only_on_the_pairs_it_gained(monkeypatch):
    """Not in full with each group it met before (a story of thousands, met again by the same small
    groups after each item it took in, kept a 20k-item build merging for 650 s)."""
    items = _items_of(two_topics_and_bridges())
    compared: list[tuple[int, int]] = []
    real = group_sums.summed_similarity

    def recording(items_, first, second):
        a, b = np.repeat(first, len(second)), np.tile(second, len(first))
        compared.extend(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True))
        return real(items_, first, second)

    monkeypatch.setattr(group_sums, "summed_similarity", recording)
    found = events.cluster(items)
    assert sorted(np.bincount(found.story))[-2:] == [50, 197]  # the two subjects, met again and again
    assert len(compared) > 5000 and len(set(compared)) == len(compared)


def test_kept_sums_give_the_stories_a_full_comparison_gives(monkeypatch):
    items = _items_of(two_topics_and_bridges())
    expected = events.cluster(items)

    def in_full(self, rx, left, ry, right):  # every pair of the two groups, summed afresh
        a = np.repeat(np.asarray(left, dtype=np.int64), len(right))
        b = np.tile(np.asarray(right, dtype=np.int64), len(left))
        return float(event_links.similarities(self.items, a, b).sum())  # pair by pair

    monkeypatch.setattr(group_sums.CrossSums, "total", in_full)
    again = events.cluster(items)
    assert again.story.tolist() == expected.story.tolist() and again.group.tolist() == expected.group.tolist()


@pytest.mark.parametrize("cells", [4_000_000, 50])  # one slice of the first group, or many
def test_a_groups_summed_similarity_is_the_sum_of_its_pairs(monkeypatch, cells):
    monkeypatch.setattr(group_sums, "_CROSS_CELLS", cells)
    items = _items_of(alike_collection("templates"))  # more words than a slice of 50 cells holds
    rng = np.random.default_rng(7)
    for size in (1, 7, 60):
        first, second = rng.choice(len(items), size, replace=False), rng.choice(len(items), 45, replace=False)
        pairs = event_links.similarities(items, np.repeat(first, len(second)), np.tile(second, len(first)))
        assert group_sums.summed_similarity(items, first, second) == pytest.approx(float(pairs.sum()), rel=1e-12)
        assert pairs.max() > 0.2  # pairs that share words, titles included


def test_kept_sums_do_not_depend_on_how_the_items_are_numbered(monkeypatch):
    """Bit for bit: a mean on the bar must fall the same way in a full build and in an update, whose
    items are numbered differently."""
    real = group_sums.CrossSums.total
    rows = two_topics_and_bridges()

    def sums_and_stories(order: list[int]) -> tuple[dict, dict]:
        shuffled = [rows[i] for i in order]
        items = _items_of(shuffled)
        sums: dict = {}

        def recording(self, rx, left, ry, right):
            total = real(self, rx, left, ry, right)
            named = frozenset((frozenset(items.key_hash[left].tolist()), frozenset(items.key_hash[right].tolist())))
            sums[named, len(left), len(right)] = total
            return total

        monkeypatch.setattr(group_sums.CrossSums, "total", recording)
        story = events.cluster(items).story
        return sums, {shuffled[i][0]: shuffled[int(story[i])][0] for i in range(len(shuffled))}

    expected = sums_and_stories(list(range(len(rows))))
    assert len(expected[0]) > 20
    for seed in range(4):
        order = list(range(len(rows)))
        random.Random(seed).shuffle(order)
        assert sums_and_stories(order) == expected
