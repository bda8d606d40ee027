"""Query evaluation: which documents a query matches, and how each scores, as per-document arrays.

Plain words (the common case) are matched and scored in numpy from their analyzed terms and their
alternatives (completions, corrections: ``search.expansion``, ``search.words``). Query syntax is
parsed by Whoosh's parser (``search.query``) and its tree evaluated here over the same cached
posting arrays; only phrases are left to Whoosh's matchers. Every part is bounded: a pattern or
range expands to at most ``MAX_WILDCARD_TERMS`` words and the whole match to ``MATCH_BUDGET_SECONDS``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from indexer.analysis import analyze
from indexer.schema import TEXT_FIELDS

from . import qtree as qt
from . import timeline
from .compounds import adjacent_counter
from .expansion import Alternative, expand
from .feedback import feedback_bm25, feedback_words
from .generation import Generation
from .query import ParsedQuery, QueryTooBroad, parse, words_only
from .words import WordScores, field_scores

MAX_EXPANSIONS = 32  # terms a wildcard contributes to scoring (matching is unaffected)
MAX_WILDCARD_TERMS = 1_000  # words a wildcard or range may match at all: bounds the posting lists it reads
MATCH_BUDGET_SECONDS = 0.5  # matching a query's operators may take this long, then it is refused (400)
PHRASE_SECONDS_PER_ITEM = 30e-6  # checking a phrase's word order in one item (measured: 17-31 us at 100k)


@dataclass
class Plan:
    """A query evaluated against one generation: which documents match, and their scores."""

    parsed: ParsedQuery
    mask: np.ndarray
    scores: np.ndarray
    relaxed: bool = False
    terms: frozenset[str] = frozenset()  # the analyzed terms scored: what highlights mark
    partial: np.ndarray | None = None  # matches with only some of the words, ranked after all the others
    # what the BM25 part sums: per word, its alternatives (search.expansion); or (field, term, boost) of a tree
    scored: tuple = ()
    # the parts ``scores`` was made of, per document, for explain: bm25, coordination (factor), title (bonus)
    parts: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    corrections: dict[str, str] = dataclasses.field(default_factory=dict)  # misspelt word -> its best spelling

    @property
    def strict(self) -> np.ndarray:
        """Matches with the words the query requires (without the partial ones that fill a short page)."""
        return self.mask if self.partial is None else self.mask & ~self.partial


def plan(text: str, gen: Generation, *, relaxed: bool = False, prefix_last: bool = False, typos: bool = False) -> Plan:
    """Match and score ``text``: plain words by the words path, query syntax by ``walk``."""
    parsed = parse(text, gen.store.schema, gen.resolve, relaxed=relaxed, any_from=gen.policy.long_query_words)
    if not parsed.text:  # browsing: every item, best quality first
        return Plan(parsed, gen.live.copy(), np.ones(gen.doc_count), relaxed)
    if isinstance(parsed.tree, qt.Words):
        return _plan_words(parsed, gen, relaxed or parsed.tree.any_word, prefix_last=prefix_last, typos=typos)
    from whoosh.query.qcore import QueryError  # syntax: the parser has loaded whoosh.query already

    try:
        mask, scoring_terms = walk(parsed.tree, gen, time.perf_counter() + MATCH_BUDGET_SECONDS)
        scoring_terms = list(dict.fromkeys(scoring_terms))  # a term named twice scores once
    except QueryError:  # some problems only show when the query meets the index: search the words
        return plan_groups(words_only(parsed), _exact(parsed.words), gen, relaxed=True)
    # with nothing to score (filters, dates, `*`), items rank by the quality prior alone
    scores = np.zeros(gen.doc_count) if scoring_terms else np.ones(gen.doc_count)
    scored = tuple((field, term, gen.policy.boosts.get(field, 1.0)) for field, term in scoring_terms)
    named = tree_terms(scored)
    for term, boosts in named.items():
        ids, values = gen.scoring.remembered(
            ("tree term", term, *boosts.items()), lambda t=term, b=boosts: _term(t, b, gen)
        )
        scores[ids] += values
    parts = {"bm25": scores}
    exact, bonus = exact_title(gen, list(named))
    if len(exact):  # a pasted title holding syntax ("... (A2I)") is still the title: the item looked for
        parts["title"] = np.zeros(gen.doc_count)
        parts["title"][exact] = bonus
        scores = scores + parts["title"]
    terms = frozenset(term for _, term in scoring_terms)
    return Plan(parsed, mask, scores, relaxed, terms, scored=scored, parts=parts)


def exact_title(gen: Generation, terms: list[str]) -> tuple[np.ndarray, float]:
    """(the live documents whose analyzed title is exactly ``terms``, the bonus they get: per term).

    Two or more terms: one word is no title.
    """
    if len(terms) < 2:
        return np.zeros(0, dtype=np.int64), 0.0
    return gen.scoring.postings("title_exact", " ".join(terms))[0], gen.policy.exact_title_boost * len(terms)


def _term(term: str, boosts: dict[str, float], gen: Generation) -> tuple[np.ndarray, np.ndarray]:
    """(documents holding a query tree's term in one of its fields, its score over them), kept per generation."""
    return field_scores(Alternative(term, 1.0, "exact", term), boosts, gen)[:2]


def tree_terms(scored: tuple) -> dict[str, dict[str, float]]:
    """A query tree's scored (field, term, boost) entries as term -> {field: boost}, in the order named.

    A term scores once over all the fields the query names it in (BM25F sums its fields before
    saturating); a plan's typed-word groups (lists) are not tree entries and are left out.
    """
    terms: dict[str, dict[str, float]] = {}
    for entry in scored:
        if not isinstance(entry, list):
            field, term, boost = entry
            terms.setdefault(term, {})[field] = boost
    return terms


def _exact(words: list[str]) -> list[list[Alternative]]:
    return [[Alternative(term, 1.0, "exact", word)] for word in words for term in analyze(word)[:1]]


def _plan_words(parsed: ParsedQuery, gen: Generation, relaxed: bool, *, prefix_last: bool, typos: bool) -> Plan:
    """Plain words, matched and scored in numpy: every word (or, relaxed, most words) must match.

    Each word also matches its alternatives (``search.expansion``): the last word's completions
    when ``prefix_last``, a misspelt word's close spellings when ``typos``.
    """
    vocabulary = gen.vocabulary() if prefix_last or typos else None
    adjacent = adjacent_counter(gen) if typos else None  # words run together ("powerapps"), search.compounds
    held = gen.scoring.held if typos else None  # items holding a term: the other spelling of a word (search.spelling)
    groups = expand(
        parsed.words, vocabulary, gen.policy, prefix_last=prefix_last, typos=typos, adjacent=adjacent, held=held
    )
    return plan_groups(parsed, groups, gen, relaxed, feedback=True)


def plan_groups(
    parsed: ParsedQuery,
    groups: list[list[Alternative]],
    gen: Generation,
    relaxed: bool,
    feedback: bool = False,
) -> Plan:
    """Match and score words, each a group of alternatives (typed words, or an item's words for "similar").

    Matching follows the policy's minimum-should-match (``relaxed``: any word); scores are
    BM25F x coordination + title bonuses, the parts kept for explain. With ``feedback``, a typed
    query may also score the words its first ranking's best items share (``search.feedback``).
    """
    policy = gen.policy
    groups = list({g[0].term: g for g in groups}.values())  # a repeated word counts once
    if not groups:
        return Plan(parsed, np.zeros(gen.doc_count, dtype=bool), np.zeros(gen.doc_count), relaxed)
    terms = [g[0].term for g in groups]
    words = WordScores.of(groups, gen)  # over the documents holding some word (``words.ids``), not all
    ids, bm25 = words.ids, words.scores
    live = gen.live if len(ids) == gen.doc_count else gen.live[ids]
    needed = 1 if relaxed else policy.minimum_should_match(len(terms))
    held = (words.matched >= needed) & live
    partial = None
    if needed > 1 and np.count_nonzero(held) < policy.fill_below:
        # a short page is filled with items holding some of the words, after every full match
        # (hand-judged nDCG@10 0.945 -> 0.962, docs/relevance.md); none full: the notice says so
        partial = (words.matched >= 1) & live & ~held
        relaxed = relaxed or not held.any()
        held |= partial
    # where words must match, or any does because the query is long (not when relaxed for another reason)
    tiered = needed > 1 or len(terms) >= policy.long_query_words
    some_full = bool((held & (words.matched == len(terms))).any())
    if tiered and policy.words_tier(len(terms)) and some_full:
        # items holding every word first; those lacking one follow as partial matches (policy.words_tier)
        partial = held & (words.matched < len(terms))
    # "relaxed" tells the reader no item has every word: never so when one has (a long query matches any word)
    relaxed = relaxed and not some_full
    coordination = words.coordination(policy)  # items with more of the query rank higher
    title = np.zeros(len(ids))
    exact: np.ndarray | tuple = ()
    if len(terms) >= 2:
        # a title holding every word is about the query; one equal to it is the item looked for.
        # By position: numpy's boolean indexing took 1-2.4 ms at 40-70k matches (the same floats)
        whole = np.flatnonzero(words.in_title == len(terms))
        title[whole] = policy.title_all_words_boost * words.title_scores[whole]
        exact_docs, bonus = exact_title(gen, terms)
        exact = _positions(ids, exact_docs)
        title[exact] += bonus
    scores = bm25 * coordination + title
    # the plan's arrays cover every document (what the page, facets and explain index); outside
    # ``ids`` an item matches nothing and scores 0, as summing over every document gave
    n = gen.doc_count
    mask, scores = _spread(ids, held, n), _spread(ids, scores, n)
    partial = None if partial is None else _spread(ids, partial, n)
    parts: Mapping[str, np.ndarray] = _Spread(ids, {"bm25": bm25, "coordination": coordination, "title": title}, n)
    marked = frozenset(a.term for g in groups for a in g)  # feedback words are scored, never marked
    if feedback and policy.feedback_for(len(terms)) and not len(exact):
        # feedback words add to an item's BM25 but never make it match, and coordination ignores them;
        # none when an item's title is the query: the item looked for is found, its list is not reordered
        extra = feedback_words(scores * gen.prior, mask, partial, gen, terms)
        if extra:
            parts = dict(parts)
            parts["bm25"] = parts["bm25"] + feedback_bm25(extra, gen)
            scores = parts["bm25"] * parts["coordination"] + parts["title"]
            groups = [*groups, *extra]
    corrections = {g[0].word: next(a.word for a in g if a.kind == "typo") for g in groups if g[-1].kind == "typo"}
    return Plan(parsed, mask, scores, relaxed, marked, partial, tuple(groups), parts, corrections)


def _spread(ids: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """A per-document array of ``n`` from values at ``ids`` (zero, or False, elsewhere)."""
    if len(ids) == n:  # scored over every document already
        return values
    out = np.zeros(n, dtype=values.dtype)
    out[ids] = values
    return out


class _Spread(Mapping):
    """Per-document arrays of ``n``, each made from its values at ``ids`` when first read.

    A plan's parts are read only to explain a page of hits (or to add feedback words): spreading
    them over every document for each query cost three arrays of the collection's size.
    """

    def __init__(self, ids: np.ndarray, values: dict[str, np.ndarray], n: int) -> None:
        self._ids, self._values, self._n = ids, values, n
        self._spread: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._spread:
            self._spread[name] = _spread(self._ids, self._values[name], self._n)
        return self._spread[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _positions(ids: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Where ``docs`` sit in the ascending ``ids``, for those of them it holds."""
    where = np.searchsorted(ids, docs)
    inside = where < len(ids)
    return where[inside][ids[where[inside]] == docs[inside]]


Scoring = list[tuple[str, str]]


def walk(node: qt.Node, gen: Generation, deadline: float = math.inf) -> tuple[np.ndarray, Scoring]:
    """The documents a query tree matches, and the (field, term) pairs that score them.

    Boolean structure, terms (cached posting arrays) and date ranges (the per-generation
    ``published`` array) are array operations; so are the words a pattern or range expands to
    (capped at ``MAX_WILDCARD_TERMS``, its first ``MAX_EXPANSIONS`` scoring). Only a phrase's word
    order is read by Whoosh. Past ``deadline`` (``time.perf_counter()``) the query is refused as
    too expensive: no query shape may hold the generation for long. Negated parts never score.
    """
    if time.perf_counter() > deadline:
        raise QueryTooBroad("this query would take too long to match; use fewer or more specific parts")
    match node:
        case qt.Everything():
            return gen.live.copy(), []
        case qt.Nothing():
            return np.zeros(gen.doc_count, dtype=bool), []
        case qt.Term(field=field, text=text):
            return gen.scoring.mask_of(field, text), _scoring(field, [text])
        case qt.Dates():
            return _dates(node, gen), []
        case qt.Without(keep=keep, drop=drop):
            mask, terms = walk(keep, gen, deadline)
            return mask & ~walk(drop, gen, deadline)[0], terms
        case qt.Maybe(keep=keep, extra=extra):
            mask, terms = walk(keep, gen, deadline)
            return mask, terms + walk(extra, gen, deadline)[1]
        case qt.Not(child=child):
            return gen.live & ~walk(child, gen, deadline)[0], []
        case qt.All(children=children) | qt.Any_(children=children):
            parts = [walk(child, gen, deadline) for child in children]
            if not parts:
                return np.zeros(gen.doc_count, dtype=bool), []
            combine = np.logical_and.reduce if isinstance(node, qt.All) else np.logical_or.reduce
            return combine([mask for mask, _ in parts]), [t for _, terms in parts for t in terms]
        case qt.Expand():
            return _expand(node, gen, deadline)
        case qt.Phrase():
            return _phrase(node, gen, deadline), _scoring(node.field, list(node.words))
    from whoosh.query.qcore import QueryError

    raise QueryError(f"unknown query part {node!r}")


def _scoring(field: str, terms: list[str]) -> Scoring:
    return [(field, t) for t in terms] if field in TEXT_FIELDS else []  # facet values filter, never score


def _dates(node: qt.Dates, gen: Generation) -> np.ndarray:
    published = gen.published
    mask = gen.live & (published >= 0)
    if node.start is not None:
        mask &= published > node.start if node.start_excluded else published >= node.start
    if node.end is not None:
        mask &= published < node.end if node.end_excluded else published <= node.end
    return mask


def _expand(node: qt.Expand, gen: Generation, deadline: float) -> tuple[np.ndarray, Scoring]:
    # wildcards, prefixes, fuzzy terms and term ranges: the union of the expanded words' posting
    # arrays. Whoosh would OR every word of a range ([a TO zy] is the whole vocabulary) under the
    # reader lock; here the words are capped and the time is bounded.
    words = [w.decode("utf-8") for w in gen.store.expand(node.source, MAX_WILDCARD_TERMS + 1)]
    if len(words) > MAX_WILDCARD_TERMS:
        raise QueryTooBroad(
            f"'{_clip(node)}' matches more than {MAX_WILDCARD_TERMS:,} different words; type more letters"
        )
    mask = np.zeros(gen.doc_count, dtype=bool)
    for word in words:
        mask[gen.scoring.postings(node.field, word)[0]] = True
        if time.perf_counter() > deadline:
            raise QueryTooBroad(f"'{_clip(node)}' would take too long to match; narrow it")
    return mask, _scoring(node.field, words[:MAX_EXPANSIONS])


def _phrase(node: qt.Phrase, gen: Generation, deadline: float) -> np.ndarray:
    # only items holding every word can hold the phrase; checking word order reads positions in
    # Python (~25 us an item), so a phrase too common to check within the budget is refused
    candidates = np.logical_and.reduce([gen.scoring.mask_of(node.field, w) for w in node.words])
    if not candidates.any():
        return candidates
    if time.perf_counter() + PHRASE_SECONDS_PER_ITEM * int(candidates.sum()) > deadline:
        raise QueryTooBroad(
            f"'{_clip(node)}' is in too many items to check the word order in time; add a word or a filter"
        )
    mask = np.zeros(gen.doc_count, dtype=bool)
    mask[gen.store.match_phrase(node.field, node.words)] = True
    return mask & gen.live


def filter_mask(gen: Generation, field: str, values: list[str]) -> np.ndarray:
    """Documents selected by the values of one filter field (values OR together)."""
    if field == "story":
        # a story is named by one of its items (its earliest when the link was made): every item of
        # the story that now holds that item, so a link saved before an update still opens its story
        mask = np.zeros(gen.doc_count, dtype=bool)
        for value in values:
            for doc in gen.live_docs(value).tolist():
                mask[gen.story_items(int(gen.story[doc]))] = True
        return mask  # story_items lists live items only
    if field == "date":
        return np.logical_or.reduce([timeline.period_mask(gen.published, v) for v in values]) & gen.live
    return gen.facets[field].mask(values, gen.doc_count)


def _clip(node: qt.Expand | qt.Phrase, size: int = 40) -> str:
    """A query part as the user might recognise it, short enough for a message."""
    text = node.label if isinstance(node, qt.Expand) else f'{node.field}:"{" ".join(node.words)}"'
    return text if len(text) <= size else text[: size - 1] + "…"
