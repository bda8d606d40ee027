"""A generation's event stories (``indexer.events``): in full, or carried over by an update.

A full build reads every item's words from the live posting tables of ``title`` and ``excerpt``
(the same terms the analyzer gave them), so no stored text is read. An update keeps every linked
group that no changed item was in or now links to, and clusters the others again from their
stored text: the groups are closed under links, so this is exactly what a full build gives
(tests/test_update.py compares the two after each of 40 real updates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import event_links, events
from .analysis import index_terms
from .events import Items, Sets, Stories
from .storage import Store
from .tables import PostingTable


@dataclass(frozen=True)
class Previous:
    """What an update reads of the generation it follows."""

    live: np.ndarray  # bool
    key_hash: np.ndarray  # int64
    story: np.ndarray  # int32
    group: np.ndarray  # int32
    mode: str  # the mode the last full build chose (events.cluster): updates keep it
    store: Store | None = None  # its documents (the replaced versions' text), when the update has it open


def full(store: Store, live: np.ndarray, published: np.ndarray, postings: dict[str, PostingTable]) -> Stories:
    """Every live item's story, its words read from the posting tables."""
    return events.cluster(items_of(store, live, published, postings))


def items_of(store: Store, live: np.ndarray, published: np.ndarray, postings: dict[str, PostingTable]) -> Items:
    """What clustering reads of every item: its words from the posting tables, its dates and hashes."""
    title, excerpt = postings["title"], postings["excerpt"]
    title_terms, excerpt_terms = title.terms.to_list(), excerpt.terms.to_list()
    number: dict[str, int] = {}
    for term in title_terms + excerpt_terms:
        number.setdefault(term, len(number))

    def pairs(table: PostingTable, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter((number[t] for t in terms), dtype=np.int64, count=len(terms))
        return np.asarray(table.ids, dtype=np.int64), np.repeat(ids, np.diff(np.asarray(table.starts)))

    n = store.doc_count
    (td, tt), (ed, et) = pairs(title, title_terms), pairs(excerpt, excerpt_terms)
    return Items(
        published=np.where(live, published, -1),
        key_hash=store.column("key_hash"),
        list_hash=store.column("list_hash"),
        words=Sets.of(np.concatenate([td, ed]), np.concatenate([tt, et]), n),
        title_words=Sets.of(td, tt, n),
    )


def update(
    store: Store,
    live: np.ndarray,
    published: np.ndarray,
    postings: dict[str, PostingTable],
    previous: Previous,
    changed: np.ndarray,
) -> Stories:
    """The stories after an update: ``changed`` holds the key hashes of every item added, changed or removed."""
    n = store.doc_count
    if previous.mode == events.OFF:  # stories stay off until a full build finds the collection narrow enough
        return events.alone(n)
    bars = events.bars(previous.mode)
    key_hash, list_hash = store.column("key_hash"), store.column("list_hash")
    published = np.where(live, published, -1)
    # items carried over unchanged: the same key, live before and now
    before = np.flatnonzero(previous.live)
    unchanged = before[~np.isin(previous.key_hash[before], changed)]
    now = np.flatnonzero(live)
    now = now[np.argsort(key_hash[now], kind="stable")]
    at = np.minimum(np.searchsorted(key_hash[now], previous.key_hash[unchanged]), max(len(now) - 1, 0))
    found = key_hash[now[at]] == previous.key_hash[unchanged] if len(now) else np.zeros(0, dtype=bool)
    unchanged, new_of_old = unchanged[found], now[at[found]]
    old_of_new = np.full(n, -1, dtype=np.int64)
    old_of_new[new_of_old] = unchanged
    fresh = np.flatnonzero(live & (old_of_new < 0))
    was_kept = np.zeros(len(previous.live), dtype=bool)
    was_kept[unchanged] = True
    gone = before[~was_kept[before]]  # masks, not setdiff1d: numpy 2 hashes 100k items in 60 ms
    touched = set(previous.group[gone].tolist())
    # groups the fresh items now link to (one whose words, date and list are its replaced version's
    # links to what that version linked to, all in its group, which is clustered again anyway)
    texts = _Texts(store)
    seek = fresh[~_as_before(fresh, gone, store, previous, key_hash, list_hash, published)]
    near = np.union1d(fresh, _near(seek, texts, published, postings, bars))
    local = _items(near, texts, published, key_hash, list_hash)
    a, b, _ = event_links.links(local, bars, event_links.plans(local, np.flatnonzero(local.published >= 0), bars))
    fresh_local = np.isin(near, fresh)
    ends = np.concatenate([b[fresh_local[a]], a[fresh_local[b]]])
    neighbours = near[ends]
    neighbours = neighbours[old_of_new[neighbours] >= 0]
    touched.update(previous.group[old_of_new[neighbours]].tolist())
    carried = np.flatnonzero(old_of_new >= 0)
    is_touched = np.zeros(len(previous.live), dtype=bool)
    is_touched[np.fromiter(touched, dtype=np.int64, count=len(touched))] = True
    again = carried[is_touched[previous.group[old_of_new[carried]]]]
    region = np.union1d(fresh, again)
    # every other item keeps its story and group (their earliest items are carried too)
    new_of = np.full(len(previous.live), -1, dtype=np.int64)
    new_of[unchanged] = new_of_old
    story = np.arange(n, dtype=np.int32)
    group = np.arange(n, dtype=np.int32)
    in_region = np.zeros(n, dtype=bool)
    in_region[region] = True
    kept = carried[~in_region[carried]]
    story[kept] = new_of[previous.story[old_of_new[kept]]]
    group[kept] = new_of[previous.group[old_of_new[kept]]]
    found_stories = events.cluster(_items(region, texts, published, key_hash, list_hash), previous.mode)
    story[region] = region[found_stories.story]
    group[region] = region[found_stories.group]
    return Stories(story, group, previous.mode)


def _as_before(
    fresh: np.ndarray,
    gone: np.ndarray,
    store: Store,
    previous: Previous,
    key_hash: np.ndarray,
    list_hash: np.ndarray,
    published,
) -> np.ndarray:
    """Which ``fresh`` items have a replaced version with the same title, excerpt, date and list.

    Clustering reads nothing else of an item (``events.Items``: its words from title and excerpt,
    its date, its list, its key), so such an item links exactly to what its replaced version did.
    """
    same = np.zeros(len(fresh), dtype=bool)
    if previous.store is None or not len(fresh):
        return same
    before = gone[np.argsort(previous.key_hash[gone], kind="stable")]  # a fresh item's replaced version is gone
    hashes = previous.key_hash[before]
    at = np.minimum(np.searchsorted(hashes, key_hash[fresh]), max(len(before) - 1, 0))
    found = hashes[at] == key_hash[fresh] if len(before) else same
    old_store = previous.store
    old_list, old_published = old_store.column("list_hash"), old_store.column("published")
    for i in np.flatnonzero(found).tolist():
        new, old = int(fresh[i]), int(before[at[i]])
        if old_list[old] != list_hash[new] or max(int(old_published[old]), -1) != max(int(published[new]), -1):
            continue
        was, now = old_store.stored(old), store.stored(new)
        same[i] = was.get("key") == now.get("key") and all(
            was.get(name, "") == now.get(name, "") for name in ("title", "excerpt")
        )
    return same


class _Texts:
    """Items' analyzed words from their stored title and excerpt (each read once)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cache: dict[int, tuple[set[str], set[str]]] = {}

    def __call__(self, doc: int) -> tuple[set[str], set[str]]:
        if doc not in self.cache:
            stored = self.store.stored(doc)
            title = index_terms(stored.get("title", ""))
            self.cache[doc] = (title | index_terms(stored.get("excerpt", "")), title)
        return self.cache[doc]


def _items(docs: np.ndarray, texts: _Texts, published, key_hash, list_hash) -> Items:
    rows = [texts(int(d)) for d in docs]
    return Items(
        published=published[docs],
        key_hash=key_hash[docs],
        list_hash=list_hash[docs],
        words=Sets.of_strings([r[0] for r in rows]),
        title_words=Sets.of_strings([r[1] for r in rows]),
    )


def _near(
    fresh: np.ndarray, texts: _Texts, published: np.ndarray, postings: dict[str, PostingTable], bars: event_links.Bars
) -> np.ndarray:
    """Every dated live item that may link to a fresh one, found from the posting tables alone.

    Such an item holds one of the fresh item's rarest ``|x| - ceil(t |x|) + 1`` words (or title
    words) and is within the window (prefix filtering). Each of those candidates' words shared
    with the fresh item are then counted exactly from the lists of all its words (``y`` shares
    ``x``'s word when ``y`` is in that word's list), and Jaccard is at most ``shared / |x|``:
    only candidates that can reach the bar are read and analyzed.
    """
    title, excerpt = postings["title"], postings["excerpt"]
    dated = [doc for doc in fresh.tolist() if published[doc] >= 0]
    terms = sorted({t for doc in dated for t in texts(doc)[0]})
    at = {name: table.terms.find_many(terms) for name, table in (("title", title), ("excerpt", excerpt))}

    def ids(table: PostingTable, i: int) -> np.ndarray:
        return np.asarray(table.ids[int(table.starts[i]) : int(table.starts[i + 1])] if i >= 0 else table.ids[:0])

    lists = {
        t: (ids(title, int(a)), ids(excerpt, int(b)))
        for t, a, b in zip(terms, at["title"].tolist(), at["excerpt"].tolist(), strict=True)
    }
    found = [np.zeros(0, dtype=np.int64)]
    for doc in dated:
        when = int(published[doc])
        words, title_words = texts(doc)
        reached = [np.zeros(0, dtype=np.int64)]
        for chosen, fields, bar in ((words, (0, 1), bars.words), (title_words, (0,), bars.titles)):
            rarest = sorted(chosen, key=lambda t: (sum(len(lists[t][f]) for f in fields), t))
            prefix = len(rarest) - int(np.ceil(bar * len(rarest) - event_links._EPSILON)) + 1
            reached.extend(lists[t][f] for t in rarest[:prefix] for f in fields)
        near = np.concatenate(reached).astype(np.int64)
        near = near[(np.abs(published[near] - when) <= event_links.WINDOW_US) & (published[near] >= 0) & (near != doc)]
        near = np.unique(near)  # the window first: the lists of common words are long, their items in it few
        if len(near) == 0:
            continue
        need_words = bars.words * len(words) - event_links._EPSILON
        need_titles = bars.titles * len(title_words) - event_links._EPSILON if title_words else np.inf
        shared_words, shared_titles = np.zeros(len(near)), np.zeros(len(near))
        left_words, left_titles = len(words), len(title_words)
        # rarest first, dropping a candidate as soon as the words left cannot bring it to the bar
        for t in sorted(words, key=lambda t: (len(lists[t][0]) + len(lists[t][1]), t)):
            in_title, in_excerpt = _holds(lists[t][0], near), _holds(lists[t][1], near)
            shared_words += in_title | in_excerpt
            left_words -= 1
            if t in title_words:
                shared_titles += in_title
                left_titles -= 1
            alive = (shared_words + left_words >= need_words) | (shared_titles + left_titles >= need_titles)
            near, shared_words, shared_titles = near[alive], shared_words[alive], shared_titles[alive]
        found.append(near)
    return np.unique(np.concatenate(found))


def _holds(ids: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Whether each of ``docs`` is in the ascending ``ids``."""
    if len(ids) == 0:
        return np.zeros(len(docs), dtype=bool)
    return ids[np.minimum(np.searchsorted(ids, docs), len(ids) - 1)] == docs
