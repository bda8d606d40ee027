"""Event clustering: the same items give the same stories in any order; a story is named by its earliest item."""

from __future__ import annotations

import datetime as dt
import random

from indexer import events
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
