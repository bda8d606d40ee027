"""The ranking policy: every constant and rule that orders results, in one inspectable object.

The engine scores with it, ``explain`` names its parts, and the OpenSearch export translates it,
so the three cannot drift apart. Rules apply in the order of ``RULES`` (as Meilisearch lists its
ranking rules); each hit's ``explain`` shows what every rule contributed.

>>> policy = RankingPolicy()
>>> [policy.minimum_should_match(n) for n in range(1, 7)]
[1, 2, 2, 3, 1, 1]
>>> round(float(policy.quality_prior(np.array([100]))[0]), 3)
1.25
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .background import zipf

# what a hit's ``explain`` lists, in the order the rules apply
RULES = (
    "words",  # 3-4 words: items holding every word first (a tier, not a score; policy.words_tier)
    "bm25",  # BM25F: per term, idf x its saturated frequency summed over the fields x their boosts
    "coordination",  # x the share of the query's weight (idf, less for words common in English) the item holds
    "title",  # + a bonus when the title holds every word, a strong one when it is the query
    "prior",  # x the quality prior
    "story",  # + a share of the best score in the item's story
    "semantic",  # the first results re-ordered by closeness in meaning to the query (when the index has vectors)
)


def _frozen(**values: float) -> Mapping[str, float]:
    return MappingProxyType(values)


@dataclass(frozen=True)
class RankingPolicy:
    """Constants and rules of relevance ranking (tuned on the tuning half of eval/, docs/relevance.md)."""

    # BM25F
    idf_formula: str = "lucene"  # "whoosh": log(N / (df + 1)) + 1; "lucene": log(1 + (N - df + 0.5) / (df + 0.5))
    # a term's idf in every field from the largest of its document frequencies in the scored fields
    # ("max", as Elasticsearch's cross_fields blends them), or from each field's own ("field"): a word
    # rarer in titles than in text then weighed up to 1.8x more in a title than in an excerpt, on top
    # of the title's boost, and one query word in a short title outranked items holding more of the
    # words in their text (docs/relevance.md, fourth round)
    idf_fields: str = "max"
    # how a term's fields add up: "document" is BM25F (Robertson and Zaragoza; Elasticsearch's
    # combined_fields): its frequency in each field, over that field's length norm and x the field's
    # boost, is summed before one saturation, so a word held again in another field adds less than
    # a second query word does. "field": each field's BM25 saturates on its own and the fields'
    # scores add, so a word repeated in the excerpt weighed as much as a second word there
    # (tests/test_relevance.py; tuning half +0.0164, 26 queries up, 11 down: docs/relevance.md, ninth round)
    saturation: str = "document"
    # BM25F saturates the summed, boosted frequency (a title word alone is 2.5), hence a larger k1
    # than per-field BM25's 1.2; the tuning half was flat from 4 to 8
    k1: float = 6.0
    b: Mapping[str, float] = field(default_factory=lambda: _frozen(title=0.5, excerpt=0.75, provider_text=0.75))
    boosts: Mapping[str, float] = field(default_factory=lambda: _frozen(title=2.5, excerpt=1.0, provider_text=0.5))
    # matching: how many of a plain query's words an item must hold
    # from this many words on, any word matches (FTS5's OR) and more matched words rank higher. 4 passed
    # the tuning half (requiring 3 of 4 words put weak items holding 3 before strong ones holding 2 on a
    # short page: +0.0061, 2 up, 0 down) and lowered the fresh half (0.712 -> 0.708, topical 0.730 ->
    # 0.715), so it stays 5 (docs/relevance.md, seventh round); the words tier below holds either way
    long_query_words: int = 5
    # 3 to ``all_words_until`` words: items holding every word rank before those lacking one (Meilisearch's
    # "words" rule), whatever must match; the score orders each tier. Without it a title holding 3 of 4
    # words outranked the item holding all 4 in its text (known-item MRR 0.992 -> 1.000, docs/relevance.md)
    all_words_first: bool = True
    all_words_until: int = 4
    fill_below: int = 10  # fewer full matches than a page: items with some of the words follow them
    # pseudo-relevance feedback (search.feedback, RM3) for queries of ``feedback_from`` to
    # ``feedback_until`` typed words (0: off; until 0: no limit); questions (5+ words) get none, as
    # their first ranking's top items lend them the wrong subject (round 1: the rare-word fix undone).
    # Off: from 2 words it passed the tuning half (+0.0063, 5 queries up, 1 down) but lowered the
    # fresh half (0.717 -> 0.691, topical 0.763 -> 0.703, on judged items; docs/relevance.md, sixth round)
    feedback_from: int = 0
    feedback_until: int = 4
    feedback_docs: int = 10  # the first ranking's top items it reads (one copy of a syndicated item)
    feedback_terms: int = 10  # words it adds
    feedback_weight: float = 0.2  # their summed weight, x the number of typed words (each weighs 1)
    feedback_max_share: float = 0.1  # a word in more than this share of the items is never added
    # coordination: "count" (share of words matched) or "idf" (share of the words' idf matched)
    coordination: str = "idf"
    coordination_power: float = 1.0  # the share is raised to this power: 0 turns coordination off
    # coordination weighs a word by its idf x how uncommon it is in English at large (search.background):
    # 0 from ``common_zipf`` on ("why", "did": frequent everywhere, rare in headlines), 1 below
    # ``content_zipf``, linear between; common_zipf 0: every word weighs its idf
    common_zipf: float = 6.5
    content_zipf: float = 5.5
    # a typed word no item holds ("rec", "recogniton") weighs in coordination as its known forms'
    # "rarest" or "commonest" (the form most items hold) idf
    form_idf: str = "commonest"
    # words as typed (search.expansion): completions of the last word, close spellings of a misspelt one
    prefix_weight: float = 0.5  # x the score of a completion ("amaz" -> amazon), below the exact word
    prefix_terms: int = 50  # most frequent completions a prefix of 3+ letters stands for
    prefix_short_terms: int = 10  # ... and of 1-2 letters, which begin thousands of words
    # a last word of up to this many letters that some item holds as typed was typed whole: it is not
    # completed ("AI"; a stop word such as "us" is still on its way to a longer one). Every length
    # (99) kept `cli` from standing for `clinic` and `build` for `builder` (tuning half: +0.0044, 2 up,
    # 0 down, below the +0.005 bar: docs/relevance.md, eighth round), and would stop completing
    # "clear" to "clearview" while it is typed; so 2, as before
    whole_word_until: int = 2
    typo_weight: float = 0.5  # x the score of a close spelling per edit, below the exact word
    typo_min_letters: int = 5  # shorter words are not corrected: one edit makes another real word
    typo_two_edits_letters: int = 9  # from this length, two edits; below it, one
    typo_rare_below: int = 0  # a word held by at most this many items is taken as misspelt
    # ... and ("stem") whose analyzed term is too: "vaccinations" (in no item) matched "vaccin" already,
    # and its corrections let "machinations" count as the word ("word": the typed word alone decides)
    misspelt_by: str = "stem"
    # close spellings a misspelt word stands for (the page then says "and close spellings"). 1, the
    # best alone, is +0.0004 on the tuning half (1 up, 0 down) but read afterwards on fresh9 it is
    # -0.007 (entity -0.024): not a change to make after that set's run (docs/relevance.md, sixteenth pass)
    typo_terms: int = 3
    # words written together or apart (search.compounds, with typos): "cyber security" also matches
    # "cybersecurity" and "powerapps" "power apps", the other form at this weight in each of the two
    # words (together about one word's score); 0: off
    compound_weight: float = 0.5
    # ... and scored with the idf of the typed word it stands for ("typed": an item writing "PowerApps"
    # counts as holding "power" and "apps", scored as they would score there), or with its own ("own":
    # the rare spelling's high idf let items holding only it outrank those holding the words apart
    # and the query's other word, docs/relevance.md)
    compound_idf: str = "typed"
    # British and American spellings of one word (search.spelling, with typos): "organisations" also
    # matches "organizations", at this weight (the same word: 1); 0: off. Snowball stems the two apart
    spelling_weight: float = 0.0
    # title
    # x the title BM25, when the title holds every query word (1.5 with per-field BM25, whose sums
    # ran about twice as high as BM25F's)
    title_all_words_boost: float = 0.75
    exact_title_boost: float = 2.0  # per query term, when the analyzed title equals the query
    # prior
    quality_weight: float = 0.25  # best quality ranks at most 25% above worst: breaks ties, never buries a match
    neutral_quality: int = 50  # an item without a quality counts as this
    # story
    story_boost: float = 0.0  # x the best score in the item's story (0: the graded set showed no gain)
    # semantic (search.semantic; only for an index built with --semantic-model): the first
    # ``semantic_window`` results each gain this x the cosine of the item's and the query's vectors x
    # the best score among them, and are ordered again. Chosen on the tuning half (0.3: +0.025, 42
    # queries up, 18 down; topical +0.038); passed its one run on the clean fresh3 half (+0.019, 9 up,
    # 6 down, not significant alone) and is up on every older held-out half (docs/relevance.md, tenth round); 0: off
    semantic_weight: float = 0.3
    semantic_window: int = 100
    # a model with a rule of its own: {model: (gate, below, from)}, a query of fewer than ``gate`` words
    # (as typed) weighs closeness by ``below``, a longer one by ``from``; the policy's 0 weight (words alone)
    # turns every rule off. multilingual-e5-small's cosines crowd together (0.7-0.9), hence a weight 40x
    # MiniLM's; it helps questions and multi-word topics, not names, hence the gate. Chosen on the tuning
    # half (+0.045, 58 queries up, 32 down, the best of 12 variants) and run once on the clean fresh8
    # (docs/relevance.md, fifteenth pass)
    semantic_rules: Mapping[str, tuple[int, float, float]] = field(
        default_factory=lambda: MappingProxyType({"multilingual-e5-small": (3, 0.0, 12.0)})
    )

    def __post_init__(self) -> None:
        if self.saturation not in ("document", "field"):
            raise ValueError(f"saturation is 'document' or 'field', not {self.saturation!r}")
        if self.k1 <= 0 or min(self.boosts.values()) < 0:
            raise ValueError("k1 must be above 0 and field boosts 0 or more")
        if self.semantic_weight < 0 or self.semantic_window < 1:
            raise ValueError("semantic_weight must be 0 or more and semantic_window at least 1")
        if any(gate < 0 or min(below, above) < 0 for gate, below, above in self.semantic_rules.values()):
            raise ValueError("a semantic rule's gate and weights must be 0 or more")
        if self.saturation == "document" and self.idf_fields != "max":
            raise ValueError("BM25F (saturation 'document') weighs a term by one idf: idf_fields must be 'max'")

    def minimum_should_match(self, words: int) -> int:
        """How many of a plain query's words an item must contain.

        One or two words: all of them. Three or four: all but one, since a short natural query
        often has one word the best items phrase differently ("Baidu Geely electric vehicles").
        From ``long_query_words`` on (pasted titles, sentences): any, ranked by how much they hold
        (after the items holding every word, while ``words_tier`` says so).
        """
        if words <= 2:
            return words
        if words < self.long_query_words:
            return words - 1
        return 1

    def words_tier(self, words: int) -> bool:
        """Whether a query of this many typed words ranks the items holding all of them first."""
        return self.all_words_first and 2 < words <= self.all_words_until

    def feedback_for(self, words: int) -> bool:
        """Whether a query of this many typed words is expanded by pseudo-relevance feedback."""
        return bool(self.feedback_from) and self.feedback_from <= words <= (self.feedback_until or words)

    def word_weight(self, word: str) -> float:
        """The share of a word's idf it weighs in coordination: less the more common it is in English."""
        if not self.common_zipf:
            return 1.0
        z = zipf(word)
        return min(1.0, max(0.0, (self.common_zipf - z) / (self.common_zipf - self.content_zipf)))

    def meaning_weight(self, model: str, query: str) -> float:
        """How much closeness in meaning weighs for this query on an index embedded by ``model`` (0: not at all).

        >>> policy = RankingPolicy()
        >>> [policy.meaning_weight("multilingual-e5-small", q) for q in ("Clearview AI", "is Clearview used")]
        [0.0, 12.0]
        >>> policy.meaning_weight("all-MiniLM-L6-v2", "Clearview AI")
        0.3
        """
        gate, below, above = self.meaning_rule(model)
        return below if len(query.split()) < gate else above

    def meaning_rule(self, model: str) -> tuple[int, float, float]:
        """(gate, below, from) for ``model``: its own rule, else ``semantic_weight`` for every query; all 0 when off."""
        if self.semantic_weight <= 0:
            return 0, 0.0, 0.0
        return self.semantic_rules.get(model, (0, self.semantic_weight, self.semantic_weight))

    def quality_prior(self, quality: np.ndarray) -> np.ndarray:
        """Multiplier per document from its 0-100 quality (negative: missing, counted as neutral)."""
        q = np.where(quality < 0, self.neutral_quality, np.clip(quality, 0, 100)).astype(np.float64)
        return 1.0 + self.quality_weight * q / 100.0

    def idf(self, documents: int, frequency: int) -> float:
        """Inverse document frequency of a term held by ``frequency`` of ``documents`` live documents.

        Lucene's form weighs a rare word further above a common one than Whoosh's, whose ``+ 1``
        flattens the ratio: the rare word that carries a question's meaning counts for more.
        """
        if self.idf_formula == "lucene":
            return float(np.log(1 + (documents - frequency + 0.5) / (frequency + 0.5)))
        return float(np.log(documents / (frequency + 1)) + 1)

    def bm25(self, field: str, idf: float, tf: np.ndarray, length: np.ndarray, avg_length: float) -> np.ndarray:
        """Unboosted BM25 of one term in one field (Whoosh's ``bm25`` formula), for arrays of postings."""
        b = self.b.get(field, 0.75)
        return idf * ((tf * (self.k1 + 1)) / (tf + self.k1 * ((1 - b) + b * length / (avg_length or 1.0))))

    def normalised_tf(self, field: str, tf: np.ndarray, length: np.ndarray, avg_length: float) -> np.ndarray:
        """A term's frequency over its field's length norm, ``tf / (1 - b + b x length / avg)`` (BM25F's part)."""
        b = self.b.get(field, 0.75)
        return tf / ((1 - b) + b * length / (avg_length or 1.0))

    def saturate(self, idf: float, frequency: np.ndarray) -> np.ndarray:
        """BM25F of a term from its summed, boosted, normalised frequency over the fields.

        ``idf x (k1 + 1) x f / (f + k1)`` in one new array (a common word's spans the collection).
        """
        out = np.asarray(frequency + self.k1, dtype=np.float64)  # a new array (0-d for one value)
        np.divide(frequency, out, out=out)
        out *= idf * (self.k1 + 1)
        return out

    def coordination_factor(self, matched_weight: np.ndarray, total_weight: float) -> np.ndarray:
        """The share of the query an item holds (by word count or by idf, see ``coordination``)."""
        share = matched_weight / total_weight if total_weight else np.ones_like(matched_weight)
        return share if self.coordination_power == 1.0 else share**self.coordination_power


POLICY = RankingPolicy()
