"""What an update's generation takes over from the generation it follows, instead of deriving it again.

An update's generation keeps the followed generation's segments (hard links) except those a
merge rewrote, and Whoosh appends the new segment after them (``commit``: the merge policy's
survivors in order, then the segment it wrote). So each document of a surviving segment keeps its
place among the others, shifted only by the segments merged away before it, and every document of
a new segment comes after them all. An update merges only trailing segments
(``build.merge_small_tail``), whose live documents Whoosh copies after the new ones into the new
segment, in order: those keep their derived data too (``DocMap.with_merged_tail``). ``DocMap`` is
that correspondence. With it the followed generation's derived arrays (posting tables, facet
pairs, vocabulary) become this generation's by a remap, a mask of the documents deleted since,
and the few postings of the new segments, all in numpy, instead of reading every segment's terms
and postings again (1.5-2 s of an update at 100k documents). ``indexer.derive`` derives
everything when the segments do not line up this way, or the followed generation has no derived
data; tests compare both ways, array for array.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .persisted import FacetArrays
from .storage import Store
from .tables import PostingTable, Strings, frequencies


@dataclass(frozen=True)
class DocMap:
    """Where the followed generation's documents are in this one, and which segments are new."""

    old_to_new: np.ndarray  # int64, one per followed document: its number here (-1: deleted in a merge, or unknown)
    added: list[tuple[int, int]]  # (position, first document) of the segments the followed generation lacks
    removed: list[int]  # positions, among the followed generation's segments, of those merged away
    fresh_end: int = -1  # a merged tail: the new segment's documents from here on are carried (see with_merged_tail)

    @classmethod
    def between(
        cls, before: list[tuple[str, int]], before_count: int, after: list[tuple[str, int]], after_count: int
    ) -> DocMap | None:
        """The map from ``before``'s documents to ``after``'s ((segment id, first document) lists), or None.

        None unless the surviving segments come first in ``after``, in their order, with the same sizes.
        """
        place = {segment_id: position for position, (segment_id, _) in enumerate(after)}
        kept = [segment_id for segment_id, _ in before if segment_id in place]
        if [segment_id for segment_id, _ in after[: len(kept)]] != kept:
            return None

        def sizes(segments: list[tuple[str, int]], total: int) -> list[int]:
            ends = [offset for _, offset in segments[1:]] + [total] if segments else []
            return [end - offset for (_, offset), end in zip(segments, ends, strict=True)]

        after_sizes = sizes(after, after_count)
        old_to_new = np.full(before_count, -1, dtype=np.int64)
        removed = []
        for position, ((segment_id, offset), size) in enumerate(zip(before, sizes(before, before_count), strict=True)):
            if segment_id not in place:
                removed.append(position)
                continue
            if after_sizes[place[segment_id]] != size:
                return None
            start = after[place[segment_id]][1]
            old_to_new[offset : offset + size] = np.arange(start, start + size)
        added = [(position, offset) for position, (_, offset) in enumerate(after) if position >= len(kept)]
        return cls(old_to_new, added, removed)

    def with_merged_tail(
        self,
        before_live: np.ndarray,
        before_hash: np.ndarray,
        after_live: np.ndarray,
        after_hash: np.ndarray,
        changed: np.ndarray,
    ) -> DocMap:
        """The map with the live documents of merged-away trailing segments placed in the new segment.

        Whoosh writes the update's documents first, then each merged segment's live documents in
        order (``SegmentWriter.add_reader``); the survivors of the merge are the followed live
        documents whose key the update did not touch (``changed``: key hashes), since it deletes
        every live version of a key it rewrites. Checked by key hash, place by place; when the
        segments do not line up this way, the map is returned as it was (the general carry path).
        """
        n = len(self.old_to_new)
        unmapped = np.flatnonzero(self.old_to_new < 0)
        if not self.removed or len(self.added) != 1 or not len(unmapped):
            return self
        tail = int(unmapped[0])
        if len(unmapped) != n - tail or self.added[0][1] != tail:  # not a trailing run, or numbers moved
            return self
        rest = np.asarray(before_hash[tail:], dtype=np.int64)
        survivors = tail + np.flatnonzero(np.asarray(before_live[tail:]) & ~np.isin(rest, changed))
        fresh_end = len(after_hash) - len(survivors)
        places = np.arange(fresh_end, len(after_hash))
        if fresh_end < tail or not (
            np.array_equal(np.asarray(after_hash)[places], np.asarray(before_hash)[survivors])
            and np.asarray(after_live)[places].all()
        ):
            return self
        old_to_new = self.old_to_new.copy()
        old_to_new[survivors] = places
        return DocMap(old_to_new, self.added, self.removed, fresh_end)

    @property
    def identity(self) -> bool:
        """Whether every followed document keeps its number (no segment was merged away)."""
        return not self.removed

    @property
    def appends(self) -> bool:
        """Whether every carried document keeps its number or moved into the new segment's tail."""
        return self.identity or self.fresh_end >= 0

    def fresh(self, live: np.ndarray) -> np.ndarray:
        """The live documents here that nothing was carried to (the update's own, read from its segment)."""
        mask = np.array(live, dtype=bool)
        mask[self.old_to_new[self.old_to_new >= 0]] = False
        return mask

    def carried(self, ids: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which of ``ids``, followed documents, are live here, their numbers here)."""
        mapped = self.old_to_new[np.asarray(ids, dtype=np.int64)]
        keep = mapped >= 0
        keep[keep] = live[mapped[keep]]
        return keep, mapped[keep]


def posting_table(old: PostingTable, docs: DocMap, live: np.ndarray, added: PostingTable) -> PostingTable:
    """The followed generation's live posting lists of a field, carried here, with ``added`` (the new segments').

    Every document of ``added`` comes after every carried one, so each term's list is its carried
    part (still ascending) followed by its added part; both are placed by one scatter, no sort.
    """
    if docs.appends:
        return _appended(old, docs, live, added)
    starts = np.asarray(old.starts, dtype=np.int64)
    term_of = np.repeat(np.arange(len(old.terms), dtype=np.int64), np.diff(starts))
    keep, ids = docs.carried(old.ids, live)
    kept_counts = np.bincount(term_of[keep], minlength=len(old.terms))
    terms, old_place, _, added_place, _ = _merged_terms(old.terms, added.terms.to_list())
    carried = np.zeros(len(terms), dtype=np.int64)
    carried[old_place] = kept_counts
    counts = carried.copy()
    added_starts = np.asarray(added.starts, dtype=np.int64)
    counts[added_place] += np.diff(added_starts)
    begins = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    out_ids = np.empty(int(counts.sum()), dtype=np.int32)
    out_tfs = np.empty(len(out_ids), dtype=np.result_type(old.tfs.dtype, added.tfs.dtype))
    # carried postings, in order: a term's run starts where the carried runs before it end
    kept_terms = old_place[term_of[keep]]
    rank = np.arange(len(kept_terms)) - (np.cumsum(carried) - carried)[kept_terms]
    out_ids[begins[kept_terms] + rank] = ids
    out_tfs[begins[kept_terms] + rank] = np.asarray(old.tfs)[keep]
    # the new segments' postings after the carried ones of their term
    lengths = np.diff(added_starts)
    add_terms = np.repeat(added_place, lengths)
    rank = np.arange(len(add_terms)) - np.repeat(added_starts[:-1], lengths)
    out_ids[begins[add_terms] + carried[add_terms] + rank] = np.asarray(added.ids)
    out_tfs[begins[add_terms] + carried[add_terms] + rank] = np.asarray(added.tfs)
    return _table(terms, counts, out_ids, frequencies(out_tfs))


def _appended(old: PostingTable, docs: DocMap, live: np.ndarray, added: PostingTable) -> PostingTable:
    """``posting_table`` when every followed document keeps its number, or moved to a merged tail.

    The postings of documents deleted since are dropped and the added ones inserted at the end of
    their term's list (before the merged tail's, whose documents come after the update's own in
    the new segment). The result is copied once, piece by piece, from the followed (mapped) arrays
    and the added ones (``_spliced``): a mask of the kept postings and two ``np.insert`` made three
    fresh copies of each array, and a fresh process pays a page fault for every page it first writes.
    """
    starts = np.asarray(old.starts, dtype=np.int64)
    ids = np.asarray(old.ids)
    if docs.identity:
        keep = live[ids]
    else:  # the merged tail's documents, after every kept one in each list, move in order
        mapped = docs.old_to_new[ids]
        keep = mapped >= 0
        keep[keep] = live[mapped[keep]]
        ids = mapped.astype(np.int32)
    dropped = np.flatnonzero(~keep)
    dropped_before = np.zeros(len(starts), dtype=np.int64)  # postings dropped before each term's list
    dropped_before[1:] = np.cumsum(
        np.bincount(np.searchsorted(starts, dropped, side="right") - 1, minlength=len(old.terms))
    )
    kept_starts = starts - dropped_before
    terms, old_place, found, placed, new_place = _merged_terms(old.terms, added.terms.to_list())
    # where each added term's postings go in the kept postings: after its own list, or, for a new
    # term, before the list of the old term it precedes
    at = np.where(found >= 0, found + 1, 0)
    at[found < 0] = new_place - np.arange(len(new_place))  # splice placed each after the new words before it
    places = kept_starts[at]
    if not docs.identity:  # an old term's added postings go before its merged tail's
        moved = np.flatnonzero(keep & (ids >= docs.fresh_end))  # each list's last postings: the merged tail's
        per_term = np.bincount(np.searchsorted(starts, moved, side="right") - 1, minlength=len(old.terms))
        places[found >= 0] -= per_term[found[found >= 0]]
    added_starts = np.asarray(added.starts, dtype=np.int64)
    lengths = np.diff(added_starts)
    pieces = _pieces(len(ids), dropped, places, added_starts)
    out_ids = _spliced(pieces, ids, np.asarray(added.ids), np.int32)
    tfs_type = np.result_type(np.asarray(old.tfs).dtype, np.asarray(added.tfs).dtype)
    out_tfs = frequencies(_spliced(pieces, np.asarray(old.tfs), np.asarray(added.tfs), tfs_type))
    counts = np.zeros(len(terms), dtype=np.int64)
    counts[old_place] = np.diff(kept_starts)
    counts[placed] += lengths
    return _table(terms, counts, out_ids, out_tfs)


def _pieces(n: int, dropped: np.ndarray, places: np.ndarray, added_starts: np.ndarray) -> list[tuple[int, int, bool]]:
    """The (start, end, from the added arrays) runs that make the spliced arrays, in order.

    Of ``n`` followed postings, ``dropped`` (ascending) go; the added run ``j`` (``added_starts[j]``
    to ``added_starts[j + 1]``) goes before the kept posting ``places[j]`` (ascending; ``places``
    count kept postings, as ``np.insert`` into the kept array would), runs at one place in order.
    """
    # a place among the kept postings, as a place among all: after the dropped ones before it
    at = places + np.searchsorted(dropped - np.arange(len(dropped)), places, side="right")
    cuts = np.unique(np.concatenate([[0, n], dropped, dropped + 1, at]))
    begins, ends = cuts[:-1], cuts[1:]
    kept = ~np.isin(begins, dropped, assume_unique=True)  # a dropped posting is a run of its own
    begins, ends = begins[kept], ends[kept]
    # the followed runs and the added ones in one order: an added run before the followed run at its place
    order = np.argsort(np.concatenate([2 * begins + 1, 2 * at]), kind="stable")
    firsts = np.concatenate([begins, added_starts[:-1]])[order].tolist()
    lasts = np.concatenate([ends, added_starts[1:]])[order].tolist()
    fresh = (order >= len(begins)).tolist()
    return list(zip(firsts, lasts, fresh, strict=True))


def _spliced(pieces: list[tuple[int, int, bool]], old: np.ndarray, added: np.ndarray, dtype: type) -> np.ndarray:
    """One array of the ``pieces`` of ``old`` and ``added``, written once into its final place."""
    out = np.empty(sum(b - a for a, b, _ in pieces), dtype=dtype)
    if pieces:
        np.concatenate([added[a:b] if fresh else old[a:b] for a, b, fresh in pieces], out=out)
    return out


def _merged_terms(old: Strings, words: list[str]) -> tuple[Strings, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``old`` with the sorted ``words`` it lacks spliced in.

    Returns (the terms, each old term's new place, each word's place in ``old`` or -1, each word's
    new place, the new words' new places).
    """
    found = old.find_many(words) if words else np.zeros(0, dtype=np.int64)
    terms, old_place, new_place = old.splice([w for w, f in zip(words, found.tolist(), strict=True) if f < 0])
    placed = np.empty(len(words), dtype=np.int64)
    placed[found >= 0] = old_place[found[found >= 0]]
    placed[found < 0] = new_place
    return terms, old_place, found, placed, new_place


def _table(terms: Strings, counts: np.ndarray, ids: np.ndarray, tfs: np.ndarray) -> PostingTable:
    """The posting table of ``terms`` whose lists hold ``counts`` postings each, terms with none dropped."""
    present = counts > 0  # a term no live document holds any more is gone, as from a full build
    starts = np.zeros(int(present.sum()) + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts[present])
    return PostingTable(terms if present.all() else terms.select(present), starts, ids, tfs)


def facet_arrays(
    old: FacetArrays, docs: DocMap, live: np.ndarray, added: list[tuple[str, np.ndarray]]
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None]:
    """A facet's (values, document ids, value ordinals, layers or None), pairs sorted by value, then document.

    The followed generation's pairs carried here, with ``added``: (value, live documents) of the new
    segments. Without a merge, or with a merged tail, the pairs keep their order (new documents go
    at the end of their value's run, before a merged tail's) and the layers are the followed ones
    remapped; otherwise layers are None (to compute).
    """
    keep, ids = docs.carried(old.doc_ids, live)
    old_ords = np.asarray(old.ords)[keep]
    new_values = [(value, found) for value, found in added if len(found)]
    present = {old.values[o] for o in np.unique(old_ords).tolist()} | {value for value, _ in new_values}
    values = sorted(present)
    ordinal = {value: i for i, value in enumerate(values)}
    remap = np.asarray([ordinal.get(value, len(values)) for value in old.values], dtype=np.int32)
    ords = remap[old_ords] if len(old_ords) else old_ords.astype(np.int32)
    added_ids = [found.astype(np.int32) for _, found in new_values]
    added_ords = [np.full(len(found), ordinal[value], dtype=np.int32) for value, found in new_values]
    if not docs.appends or len({value for value, _ in new_values}) < len(new_values):
        doc_ids = np.concatenate([ids.astype(np.int32), *added_ids])
        ords = np.concatenate([ords, *added_ords]).astype(np.int32)
        order = np.lexsort((doc_ids, ords))
        return values, doc_ids[order], ords[order], None
    new_ids = np.concatenate([np.zeros(0, np.int32), *added_ids])
    new_ords = np.concatenate([np.zeros(0, np.int32), *added_ords])
    if docs.identity:
        at = np.searchsorted(ords, new_ords, side="right")  # the end of each value's run
    else:  # pairs stay in (value, document) order: a merged tail's documents come after the new ones
        width = np.int64(len(live) + 1)
        at = np.searchsorted(ords.astype(np.int64) * width + ids, new_ords.astype(np.int64) * width + new_ids)
    doc_ids = np.insert(ids.astype(np.int32), at, new_ids)
    ords = np.insert(ords, at, new_ords).astype(np.int32)
    # layers: each carried document's values are what they were (remapped); new documents' from their pairs
    none = len(values)
    lookup = np.append(remap, np.int32(none))  # the followed "none" (len(old.values)) stays none
    old_layers = np.asarray(old.layers)
    order = np.lexsort((new_ords, new_ids))
    by_doc = new_ids[order]
    rank = np.arange(len(by_doc)) - np.searchsorted(by_doc, by_doc, side="left")
    rows = max(len(old_layers), int(rank.max()) + 1 if len(rank) else 1)
    layers = np.full((rows, len(live)), none, dtype=np.int32)
    if docs.identity:
        layers[: len(old_layers), : old_layers.shape[1]] = lookup[old_layers]
    else:  # a merged tail's columns move to their new places
        moved = docs.old_to_new >= 0
        layers[: len(old_layers), docs.old_to_new[moved]] = lookup[old_layers[:, moved]]
    layers[:, ~live] = none
    layers[rank, by_doc] = new_ords[order]
    while len(layers) > 1 and not (layers[-1] != none).any():  # a full build has no row of nothing
        layers = layers[:-1]
    return values, doc_ids, ords, layers


def vocabulary(
    old_words: Strings,
    old_live_df: np.ndarray,
    old_deleted: Counter,
    deleted: Counter,
    segments_delta: Counter,
) -> tuple[Strings, np.ndarray]:
    """The vocabulary (every word Whoosh holds) and its live document frequencies, carried here.

    A word's frequency in Whoosh is its live one plus its deleted documents'; it changes by what the
    segments merged away and the new ones held (``segments_delta``), and its deleted part by what
    the documents deleted or merged away since held (``deleted`` against ``old_deleted``).
    """
    changed = set(segments_delta)
    for (field, term), count in deleted.items():
        if field == "vocabulary" and old_deleted[(field, term)] != count:
            changed.add(term)
    changed.update(term for (field, term) in old_deleted if field == "vocabulary" and (field, term) not in deleted)
    words = sorted(changed)
    old_live = np.asarray(old_live_df, dtype=np.int64)
    terms, old_place, found, placed, _ = _merged_terms(old_words, words)
    live_df = np.zeros(len(terms), dtype=np.int64)
    live_df[old_place] = old_live
    keep = np.ones(len(terms), dtype=bool)
    for word, at, place in zip(words, found.tolist(), placed.tolist(), strict=True):
        before = int(old_live[at]) + old_deleted[("vocabulary", word)] if at >= 0 else 0
        held = before + segments_delta[word]  # documents holding it in Whoosh's segments now
        live_df[place] = held - deleted[("vocabulary", word)]
        keep[place] = held > 0
    return (terms, live_df) if keep.all() else (terms.select(keep), live_df[keep])


def segment_words(store: Store, positions: Iterable[int], field: str) -> Counter:
    """Documents holding each word of ``field`` in the segments at ``positions`` (deleted ones included)."""
    held: Counter = Counter()
    for position in positions:
        for word, frequency in store.segment_words(position, field):
            held[word] += frequency
    return held
