"""Words written together or apart: "cyber security" also finds "cybersecurity", and "PowerApps" "Power Apps".

Meilisearch's concatenation and split rules, as word-form alternatives (``search.expansion``):

- **joined**: two adjacent typed words whose concatenation is a word of the index ("cyber" +
  "security" -> cybersecurity) both gain it as an alternative, weighted ``policy.compound_weight``
  each, so an item holding the joined form holds both words (coordination counts them) and scores
  about what one of them scores;
- **split**: a typed word that is two words of the index run together ("powerapps" -> power apps),
  when the index holds that pair next to each other in more items than it holds the word, is
  searched as those two words, each with the typed form as its alternative: items writing
  either way hold both.

Either way the other form is scored with the idf of the word it stands for (``policy.compound_idf``
"typed"): an item writing "PowerApps" holds "power" and "apps" and scores as they would score there,
x ``compound_weight``. On its own idf the rare spelling outranked the items holding the words apart.

Both run with typo tolerance (the request's ``typos``), as Meilisearch counts them as typos.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from itertools import pairwise

import numpy as np

from indexer.analysis import analyze

from .facets import fold

MIN_PART = 3  # letters of each half of a split word: "an"+"other", "on"+"line" are not compounds
SAMPLE = 16  # items read to tell whether two words stand next to each other (a fixed cost per pair)
PAIRS_KEPT = 4_096  # pairs whose counts a generation keeps (as the typo corrections it keeps)
FIELDS = ("title", "excerpt")  # where two words are looked for side by side
NEW_PAIRS = 8  # pairs one query may read that are not kept yet: bounds a query of many run-together words
MAX_SPLITS = 4  # ... and words it may split (each adds a word to score)


def join_adjacent(words: list[str], groups: dict[int, list], vocabulary, policy, make) -> None:
    """Give adjacent typed words (positions with a group) their concatenation as an alternative, in place.

    ``groups`` maps a typed word's position to its group of alternatives; ``make(term, word, typed)``
    builds the alternative standing for the typed word whose term is ``typed``.
    """
    if not policy.compound_weight or vocabulary is None:
        return
    for position in range(len(words) - 1):
        first, second = groups.get(position), groups.get(position + 1)
        if first is None or second is None:
            continue
        joined = fold(words[position]).lower() + fold(words[position + 1]).lower()
        terms = analyze(joined)
        if len(terms) != 1 or vocabulary.frequency(joined) <= 0:
            continue
        for group in (first, second):
            if all(a.term != terms[0] for a in group):
                group.insert(1, make(terms[0], joined, group[0].term))


def split_word(
    typed: str, vocabulary, policy, adjacent: Callable[[str, str, int], int] | None
) -> tuple[str, str, str] | None:
    """(first half, second half, the typed word's term) when ``typed`` is two indexed words run together.

    The pair must stand next to each other in more items than hold the typed word (``adjacent``
    counts them), so "facebook" is not read as "face book", nor "workflows" as "work flows".
    """
    if not policy.compound_weight or vocabulary is None or adjacent is None:
        return None
    low = fold(typed).lower()
    whole = analyze(low)
    if len(whole) != 1 or len(low) < 2 * MIN_PART or not low.isalpha():
        return None
    best, best_count = None, vocabulary.frequency(low)
    for cut in range(MIN_PART, len(low) - MIN_PART + 1):
        head, tail = low[:cut], low[cut:]
        if vocabulary.frequency(head) <= 0 or vocabulary.frequency(tail) <= 0:
            continue
        head_terms, tail_terms = analyze(head), analyze(tail)
        if len(head_terms) != 1 or len(tail_terms) != 1:
            continue  # a stop word half
        count = adjacent(head_terms[0], tail_terms[0], best_count)
        if count > best_count:
            best, best_count = (head, tail), count
    return (*best, whole[0]) if best else None


def adjacent_counter(gen) -> Callable[[str, str, int], int]:
    """``count(a, b, above)``: about how many live items hold term ``a`` right before ``b`` in a title or excerpt.

    0 when no more than ``above`` items hold both terms. Otherwise the share of adjacent pairs is
    read from ``SAMPLE`` of those items, spread evenly over them (their stored text, analyzed):
    a fixed cost, where Whoosh's phrase matcher read every item's positions (300 ms for "power
    app" at 100k items). Both numbers are kept by the generation (``Generation.compound_pairs``). One
    counter (one query) reads at most ``NEW_PAIRS`` pairs it does not find kept, and counts 0 once
    ``MAX_SPLITS`` pairs were found side by side: a query of 64 run-together words stays bounded.
    """
    pairs = gen.compound_pairs()
    new, found = [NEW_PAIRS], [MAX_SPLITS]

    def count(a: str, b: str, above: int) -> int:
        if found[0] <= 0:  # a query of many run-together words: the rest stay as typed
            return 0
        known = pairs.get(a, b)
        if known is None or (known[1] is None and known[0] > above):
            if new[0] <= 0:
                return 0
            new[0] -= 1
            docs = _holding(gen, a, b)
            known = (len(docs), _share(gen, a, b, docs) if len(docs) > above else None)
            pairs.put(a, b, known)
        both, share = known
        adjacent = round(share * both) if both > above and share is not None else 0
        found[0] -= adjacent > 0
        return adjacent

    return count


class Pairs:
    """Per generation: how many items hold two terms, and the share of them holding the two side by side.

    The ``PAIRS_KEPT`` most recently used pairs; it holds no reference to its generation.
    """

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, str], tuple[int, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, a: str, b: str) -> tuple[int, float | None] | None:
        """(items holding both, the adjacent share or None when not read yet), if kept."""
        with self._lock:
            known = self._kept.get((a, b))
            if known is not None:
                self._kept.move_to_end((a, b))
            return known

    def put(self, a: str, b: str, known: tuple[int, float | None]) -> None:
        with self._lock:
            self._kept[(a, b)] = known
            self._kept.move_to_end((a, b))
            while len(self._kept) > PAIRS_KEPT:
                self._kept.popitem(last=False)


def _holding(gen, a: str, b: str) -> np.ndarray:
    """The live items holding both terms in one of ``FIELDS``."""
    postings = gen.scoring.postings
    held = [np.intersect1d(postings(f, a)[0], postings(f, b)[0]) for f in FIELDS]
    return np.unique(np.concatenate(held))


def _share(gen, a: str, b: str, docs: np.ndarray) -> float:
    """The share of ``SAMPLE`` of ``docs``, evenly spread, whose stored text holds ``a`` right before ``b``."""
    if not len(docs):
        return 0.0
    sample = np.unique(docs[np.linspace(0, len(docs) - 1, min(SAMPLE, len(docs))).astype(np.int64)])
    adjacent = 0
    for doc in sample.tolist():
        stored = gen.stored(doc)
        for field in FIELDS:
            terms = analyze(stored.get(field) or "")
            if any(x == a and y == b for x, y in pairwise(terms)):
                adjacent += 1
                break
    return adjacent / len(sample)
