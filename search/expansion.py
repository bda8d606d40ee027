"""Words as people type them: the last word completed as a prefix, misspelt words matched to close spellings.

Both expand a typed word into index terms from the generation's own vocabulary (unstemmed,
accent-folded words with their document frequencies), each with a weight below an exact match:

- **prefix** (Algolia's ``prefixLast``, Meilisearch's default): the last word of a query that does
  not end in a space also stands for the most frequent words it begins ("amaz" -> amazon). One or
  two letters expand to at most ``policy.prefix_short_terms`` words, longer ones to
  ``policy.prefix_terms``: the cost is bounded whatever the vocabulary.
- **typo** (Meilisearch's rule): a word of 5+ letters that no item holds, or only a few do, also
  matches words one edit away (two from 9 letters), transpositions counting one edit (OSA
  distance, from rapidfuzz), weighted ``typo_weight`` per edit. The closest, most frequent win.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexer.analysis import analyze

from .compounds import join_adjacent, split_word
from .facets import fold
from .spelling import other_spellings


@dataclass(frozen=True)
class Alternative:
    """One index term a typed word stands for."""

    term: str  # the analyzed (stemmed) term scored
    weight: float  # 1 for the word itself, less for completions and corrections
    kind: str  # "exact", "prefix", "typo", "joined" or "split"
    word: str  # the vocabulary word behind it ("amazon" for "amaz")
    # the term whose idf it is scored with, when not its own: a word written together or apart
    # weighs what the word it stands for weighs (``policy.compound_idf``), not what its rare spelling would
    idf_term: str = ""


class Vocabulary:
    """The generation's unstemmed words, sorted, with live document frequencies.

    ``words`` is the build's sorted table (``indexer.tables.Strings``, mapped) or any sorted
    sequence: lookups bisect it, so opening a generation builds no dictionary of its words.
    """

    def __init__(self, words: Sequence[str], frequencies: np.ndarray) -> None:
        self.words = words
        self.frequencies = np.asarray(frequencies)
        self.lookup = lru_cache(maxsize=4_096)(self._corrections)
        # a look-up bisects the mapped table in Python (~30 us at 100k words); compound words look up
        # a word's halves at every cut, and typing repeats words
        self.frequency = lru_cache(maxsize=16_384)(self._frequency)

    def _frequency(self, word: str) -> int:
        """Live documents holding ``word`` (0 when none does)."""
        i = bisect_left(self.words, word)
        return int(self.frequencies[i]) if i < len(self.words) and self.words[i] == word else 0

    def completions(self, prefix: str, limit: int) -> list[str]:
        """The ``limit`` most frequent words that start with ``prefix`` (longer than it)."""
        lo = bisect_left(self.words, prefix)
        hi = bisect_left(self.words, prefix + "\uffff")
        if hi <= lo:
            return []
        span = self.frequencies[lo:hi]
        best = np.argsort(-span, kind="stable")[: limit + 1]  # + 1: the prefix itself may be a word
        return [self.words[lo + i] for i in best if self.words[lo + i] != prefix and span[i] > 0][:limit]

    def _corrections(self, word: str, max_edits: int, limit: int) -> tuple[tuple[str, int], ...]:
        from rapidfuzz import distance, process  # only when a word needs correcting

        words = self.words.to_list() if hasattr(self.words, "to_list") else list(self.words)
        found = process.extract(word, words, scorer=distance.OSA.distance, score_cutoff=max_edits, limit=None)
        ranked = sorted(
            (edits, -self.frequencies[i], candidate)
            for candidate, edits, i in found
            if candidate != word and self.frequencies[i] > 0
        )
        return tuple((candidate, edits) for edits, _, candidate in ranked[:limit])


def expand(
    words: list[str],
    vocabulary: Vocabulary | None,
    policy,
    *,
    prefix_last: bool,
    typos: bool,
    adjacent: Callable[[str, str, int], int] | None = None,
    held: Callable[[str], int] | None = None,
) -> list[list[Alternative]]:
    """For each typed word that has index terms, its alternatives (the exact term first).

    A word whose analysis is empty (a stop word) is left out, unless it is the last word
    being typed and completes to something ("th" -> the, then, their...). With ``typos``, words
    written together or apart also match the other way (``search.compounds``; ``adjacent(a, b)``
    counts the items holding two terms next to each other, when more than a number hold both), and a
    word also matches its other British or American spelling when ``held(term)`` says items hold it
    (``search.spelling``): a word with one is not taken as misspelt.
    """
    expanded: list[list[Alternative]] = []
    at: dict[int, list[Alternative]] = {}  # a typed word's position -> its group, for joining neighbours
    for position, typed in enumerate(words):
        low = fold(typed).lower()
        exact = [Alternative(term, 1.0, "exact", low) for term in analyze(typed)]
        alternatives = exact[:1]
        seen = {a.term for a in alternatives}
        last = position == len(words) - 1
        # a short word that is an indexed word itself ("AI") was most likely typed whole
        # (policy.whole_word_until); a stop word ("us", "th") is on its way to a longer one
        whole = len(low) <= policy.whole_word_until and bool(exact) and vocabulary is not None
        whole = whole and vocabulary.frequency(low) > 0
        if prefix_last and last and len(exact) <= 1 and not whole:
            limit = policy.prefix_short_terms if len(low) <= 2 else policy.prefix_terms
            for word in vocabulary.completions(low, limit):
                for term in analyze(word)[:1]:
                    if term not in seen:
                        seen.add(term)
                        alternatives.append(Alternative(term, policy.prefix_weight, "prefix", word))
        completed = len(alternatives) > 1  # a word being typed that completes is not a misspelling ("rekognitio")
        if typos and len(exact) == 1 and policy.spelling_weight and held is not None:
            for word in other_spellings(low):
                for term in analyze(word)[:1]:
                    if term not in seen and held(term) > 0:
                        seen.add(term)
                        alternatives.insert(1, Alternative(term, policy.spelling_weight, "spelling", word))
                        completed = True  # "prioritising": written the British way, not misspelt
        # a word being typed may complete to longer ones ("powerapps" -> "powerappscall") and still be two
        split = split_word(typed, vocabulary, policy, adjacent) if typos and len(exact) == 1 else None
        if split:  # "powerapps": power apps, each half with the typed form as its alternative (not its completions)
            head, tail, whole = split
            for half in (head, tail):
                term = analyze(half)[0]
                typed_form = Alternative(whole, policy.compound_weight, "split", low, compound_idf_term(term, policy))
                expanded.append([Alternative(term, 1.0, "exact", half), typed_form])
            continue
        if typos and len(exact) == 1 and not completed and _misspelt(low, exact[0].term, vocabulary, policy, held):
            edits = 2 if len(low) >= policy.typo_two_edits_letters else 1
            for word, distance in vocabulary.lookup(low, edits, policy.typo_terms):
                for term in analyze(word)[:1]:
                    if term not in seen:
                        seen.add(term)
                        alternatives.append(Alternative(term, policy.typo_weight**distance, "typo", word))
        if alternatives:
            expanded.append(alternatives)
            at[position] = alternatives
        expanded.extend([a] for a in exact[1:])  # "won't" -> two terms: the rest stay exact
    if typos:  # "cyber security": both words also match "cybersecurity"

        def joined(term: str, word: str, typed_term: str) -> Alternative:
            return Alternative(term, policy.compound_weight, "joined", word, compound_idf_term(typed_term, policy))

        join_adjacent(words, at, vocabulary, policy, joined)
    return expanded


def compound_idf_term(typed_term: str, policy) -> str:
    """The term whose idf a joined or split form is scored with: the typed word's ("typed"), or its own ("")."""
    return typed_term if policy.compound_idf == "typed" else ""


def _misspelt(word: str, term: str, vocabulary: Vocabulary, policy, held: Callable[[str], int] | None) -> bool:
    """Long enough to correct, not a number, and held by (almost) no item.

    Nor, under ``policy.misspelt_by`` "stem", its analyzed term: "vaccinations" is in no item, but
    "vaccin" is, so the word matches already.
    """
    long_enough = len(word) >= policy.typo_min_letters and not word.isdigit()
    if not long_enough or vocabulary.frequency(word) > policy.typo_rare_below:
        return False
    return policy.misspelt_by != "stem" or held is None or held(term) <= policy.typo_rare_below
