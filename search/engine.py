"""The searcher: one request in, one JSON-ready answer out, the same for CLI, page and API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.fields import DATETIME
from whoosh.query.qcore import QueryError
from whoosh.searching import Searcher
from whoosh.support.levenshtein import damerau_levenshtein

from indexer import generations
from indexer.analysis import analyze
from indexer.schema import FACET_FIELDS, TEXT_FIELDS
from indexer.text import canonical_url

from . import highlight, timeline
from .expansion import Alternative, Vocabulary, expand
from .explain import explain
from .facets import FacetTable, fold
from .livestats import LiveStats, deleted_docnums
from .query import ParsedQuery, QueryTooBroad, parse, words_only
from .ranking import POLICY, RankingPolicy
from .request import FILTER_FIELDS, SearchRequest
from .scorer import ScoringData, column_values
from .words import WordScores

FACET_SIZE = {"topics": 20, "provider": 20, "year": 30, "month": 24, "kind": 2}
SUGGEST_BELOW = 3  # offer did-you-mean when a query finds fewer hits than this
SIMILAR_TERMS = 12  # distinctive words of an item used to find similar ones
RESULT_CACHE_ENTRIES = 1_024
INFLIGHT_WAIT_SECONDS = 10.0  # then compute it yourself (the first one may have failed)
MAX_EXPANSIONS = 32  # terms a wildcard contributes to scoring (matching is unaffected)
MAX_WILDCARD_TERMS = 1_000  # words a wildcard or range may match at all: bounds the posting lists it reads
MATCH_BUDGET_SECONDS = 0.5  # matching a query's operators may take this long, then it is refused (400)
MORE_SHOWN = 5  # other items of a story listed under its best hit

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+(?:'\w+)*")


@dataclass
class Generation:
    """One opened index generation and everything derived from it once."""

    name: str
    path: Path
    index: Any
    reader: Any
    doc_count: int
    facets: dict[str, FacetTable]
    prior: np.ndarray  # quality prior with a per-URL tie-break folded in
    tiebreak: np.ndarray
    published: np.ndarray
    quality: np.ndarray
    live: np.ndarray  # documents not deleted
    story: np.ndarray  # per-document story ordinal (items of one story share it)
    calendar: timeline.Calendar  # per-document day and month numbers for the coverage timeline
    stats: LiveStats
    scoring: ScoringData
    policy: RankingPolicy
    manifest: dict
    searcher: Any  # one Whoosh reader per generation (each costs hundreds of MB at 100k documents)
    lock: Any  # held for every use of it: Whoosh readers are not safe across threads
    results: OrderedDict = dataclasses.field(default_factory=OrderedDict)  # answer cache of this generation
    inflight: dict = dataclasses.field(default_factory=dict)  # request -> Event, while one thread computes it
    _vocabulary: Vocabulary | None = None

    @classmethod
    def open(cls, path: Path, policy: RankingPolicy = POLICY) -> "Generation":
        """Open a generation directory and precompute facet arrays, priors and statistics."""
        ix = whoosh_index.open_dir(str(path))
        reader = ix.reader()
        n = reader.doc_count_all()
        live = np.ones(n, dtype=bool)
        live[deleted_docnums(reader)] = False
        facets = {f: FacetTable.from_reader(reader, f, live) for f in FACET_FIELDS}
        quality = _column_array(reader, "quality")
        tiebreak = _column_array(reader, "tiebreak")
        published = _column_array(reader, "published")
        story = _story_ordinals(reader, n)
        stats = LiveStats.from_reader(reader)
        # the tie-break factor is far below any real score difference but orders exact ties by URL
        prior = policy.quality_prior(quality) * (1.0 + 1e-9 * tiebreak / 2**31)
        lock = threading.RLock()
        scoring = ScoringData.build(reader, live, stats, lock, policy)
        manifest = generations.read_manifest(path)
        return cls(
            path.name,
            path,
            ix,
            reader,
            n,
            facets,
            prior,
            tiebreak,
            published,
            quality,
            live,
            story,
            timeline.Calendar.of(published),
            stats,
            scoring,
            policy,
            manifest,
            Searcher(reader, fromindex=ix),
            lock,
        )

    def resolve(self, field: str, value: str) -> str | None:
        """Canonical spelling of a facet value, or None when no document has it."""
        table = self.facets.get(field)
        return table.resolve(value) if table else value

    def vocabulary(self) -> Vocabulary:
        """The unstemmed words of live documents with their frequencies (read on first use)."""
        with self.lock:
            if self._vocabulary is None:
                words, frequencies = [], []
                for term, info in self.reader.iter_field("vocabulary"):
                    word = term.decode("utf-8")
                    words.append(word)
                    frequencies.append(info.doc_frequency() - self.stats.deleted_df.get(("vocabulary", word), 0))
                self._vocabulary = Vocabulary(words, np.asarray(frequencies))
            return self._vocabulary


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
    parts: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    corrections: dict[str, str] = dataclasses.field(default_factory=dict)  # misspelt word -> its best spelling

    @property
    def strict(self) -> np.ndarray:
        """Matches with the words the query requires (without the partial ones that fill a short page)."""
        return self.mask if self.partial is None else self.mask & ~self.partial


class SearchEngine:
    """Answers search requests from the live generation of an index directory.

    The live generation is re-checked at most every ``refresh_seconds``; a new one is opened
    beside the old, and requests in flight finish on the generation they started with.
    """

    def __init__(
        self,
        index_dir: Path | str,
        refresh_seconds: float = 1.0,
        cache_entries: int = RESULT_CACHE_ENTRIES,
        policy: RankingPolicy = POLICY,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.policy = policy
        self.cache_entries = cache_entries
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        self._checked = 0.0
        self._loading: Path | None = None

    # -- generations -------------------------------------------------------

    def generation(self) -> Generation:
        """The live generation; a newer one is opened in the background and swapped in when ready.

        So no request waits for facet arrays and statistics to be built.
        """
        now = time.monotonic()
        gen = self._generation
        if gen is not None and now - self._checked < self.refresh_seconds:
            return gen
        with self._lock:
            gen = self._generation
            if gen is not None and now - self._checked < self.refresh_seconds:
                return gen
            self._checked = now
            try:
                path = generations.current_generation(self.index_dir)
            except generations.IndexMissing:
                if gen is None:
                    raise
                return gen  # the index directory is being replaced: keep serving what we have
            if gen is None:
                self._generation = Generation.open(path, self.policy)
            elif gen.path != path and self._loading != path:
                self._loading = path
                threading.Thread(target=self._load, args=(path,), name="open-generation", daemon=True).start()
            return self._generation

    def _load(self, path: Path) -> None:
        try:
            fresh = Generation.open(path, self.policy)
        except Exception:
            log.exception("could not open index generation %s", path)
            fresh = None
        with self._lock:
            if fresh is not None:
                self._generation = fresh
            self._loading = None

    # -- searching ---------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """Ranked hits, disjunctive facet counts and a did-you-mean for one request.

        Answers are cached per generation: a new generation starts with an empty cache, so
        a cached answer is never stale. Identical requests arriving together are computed
        once: the others wait for that answer (a popular query no longer costs N times).
        """
        started = time.perf_counter()
        gen = self.generation()
        with gen.lock:
            cached = gen.results.get(request)
            if cached is not None:
                gen.results.move_to_end(request)
            running = gen.inflight.get(request)
            leader = cached is None and running is None
            if leader:
                gen.inflight[request] = running = threading.Event()
        if cached is None and not leader:
            running.wait(timeout=INFLIGHT_WAIT_SECONDS)
            with gen.lock:
                cached = gen.results.get(request)
        if cached is not None:
            return {**cached, "took_ms": round((time.perf_counter() - started) * 1000, 2)}
        try:
            result = self._search(request, gen, started)
            with gen.lock:
                gen.results[request] = result
                while len(gen.results) > self.cache_entries:
                    gen.results.popitem(last=False)
        finally:
            if leader:
                with gen.lock:
                    gen.inflight.pop(request, None)
                running.set()
        return result

    def _search(self, request: SearchRequest, gen: Generation, started: float) -> dict[str, Any]:
        plan = self._plan(request.q, gen, **_typing(request))
        fmasks = {
            field: self._filter_mask(gen, field, values)
            for field in FILTER_FIELDS
            if (values := request.filter_values(field))
        }
        strict_total = int(np.logical_and.reduce([plan.strict, *fmasks.values()]).sum())
        suggestion = None
        if strict_total < SUGGEST_BELOW:
            suggestion = self._suggest(plan.parsed, gen, fmasks, strict_total)
        if plan.parsed.plain and not plan.mask.any() and len(plan.parsed.words) >= 2:
            # no item has every word: show the items that have most of them
            plan = self._plan(request.q, gen, relaxed=True, **_typing(request))

        final = _narrowed(plan.mask, fmasks)
        total = int(final.sum())
        corrected = _corrected(request.q, plan.corrections) if plan.corrections and total else None
        if corrected:
            suggestion = None  # the results already come from the correction; the page says so

        # disjunctive: each facet, and the timeline, is counted under every filter except its own
        facets = {}
        for field in FACET_FIELDS:
            table = gen.facets[field]
            counts = table.counts(_narrowed(plan.mask, fmasks, field))
            facets[field] = table.summarize(counts, request.filter_values(field), FACET_SIZE[field])
        histogram = gen.calendar.histogram(_narrowed(plan.mask, fmasks, "date"))
        selected = set(request.filter_values("date"))
        for bucket in histogram["buckets"]:
            bucket["selected"] = timeline.bucket_period(bucket) in selected

        hits, stories = self._hits(plan, request, gen, final)
        return {
            "query": request.q,
            "total": total,
            "stories": stories,
            "group": request.group,
            "page": request.page,
            "limit": request.limit,
            "pages": max(1, math.ceil((stories if request.group else total) / request.limit)),
            "sort": request.sort,
            "filters": {f: request.filter_values(f) for f in FILTER_FIELDS if request.filter_values(f)},
            "hits": hits,
            "facets": facets,
            "timeline": histogram,
            "suggestion": suggestion,
            "corrected": corrected,
            "relaxed": plan.relaxed,
            "partial": int((final & plan.partial).sum()) if plan.partial is not None else 0,
            "generation": gen.name,
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    @staticmethod
    def _filter_mask(gen: Generation, field: str, values: list[str]) -> np.ndarray:
        if field == "story":
            mask = np.zeros(gen.doc_count, dtype=bool)
            for value in values:
                mask[gen.scoring.postings("story", canonical_url(value))[0]] = True
            return mask
        if field == "date":
            return np.logical_or.reduce([timeline.period_mask(gen.published, v) for v in values]) & gen.live
        return gen.facets[field].mask(values, gen.doc_count)

    def _plan(
        self, text: str, gen: Generation, *, relaxed: bool = False, prefix_last: bool = False, typos: bool = False
    ) -> Plan:
        parsed = parse(text, gen.index.schema, gen.resolve, relaxed=relaxed, any_from=gen.policy.long_query_words)
        if not parsed.text:  # browsing: every item, best quality first
            return Plan(parsed, gen.live.copy(), np.ones(gen.doc_count), relaxed)
        if parsed.plain and not parsed.fallback:
            return self._plan_words(parsed, gen, relaxed, prefix_last=prefix_last, typos=typos)
        try:
            mask = self._whoosh_mask(parsed.query, gen, time.perf_counter() + MATCH_BUDGET_SECONDS)
        except QueryError:  # some problems only show when the query meets the index
            parsed = words_only(parsed)
            mask = self._whoosh_mask(parsed.query, gen, time.perf_counter() + MATCH_BUDGET_SECONDS)
        with gen.lock:
            scoring_terms = _scoring_terms(parsed.query, gen.reader)
        # with nothing to score (filters, dates, `*`), items rank by the quality prior alone
        scores = np.zeros(gen.doc_count) if scoring_terms else np.ones(gen.doc_count)
        scored = tuple((field, term, gen.policy.boosts.get(field, 1.0)) for field, term in scoring_terms)
        for field, term, boost in scored:
            gen.scoring.add_bm25(scores, field, term, boost)
        terms = frozenset(term for _, term in scoring_terms)
        return Plan(parsed, mask, scores, relaxed, terms, scored=scored, parts={"bm25": scores})

    def _plan_words(
        self, parsed: ParsedQuery, gen: Generation, relaxed: bool, *, prefix_last: bool, typos: bool
    ) -> Plan:
        """Plain words, matched and scored in numpy: every word (or, relaxed, most words) must match.

        Each word also matches its alternatives (``search.expansion``): the last word's completions
        when ``prefix_last``, a misspelt word's close spellings when ``typos``.
        """
        policy = gen.policy
        vocabulary = gen.vocabulary() if prefix_last or typos else None
        groups = expand(parsed.words, vocabulary, policy, prefix_last=prefix_last, typos=typos)
        groups = list({g[0].term: g for g in groups}.values())  # a repeated word counts once
        if not groups:
            return Plan(parsed, np.zeros(gen.doc_count, dtype=bool), np.zeros(gen.doc_count), relaxed)
        terms = [g[0].term for g in groups]
        words = WordScores.of(groups, gen)
        bm25 = words.scores
        needed = 1 if relaxed else policy.minimum_should_match(len(terms))
        mask = (words.matched >= needed) & gen.live
        partial = None
        if needed > 1 and int(mask.sum()) < policy.fill_below:
            # a short page is filled with items holding some of the words, after every full match
            # (hand-judged nDCG@10 0.945 -> 0.962, docs/relevance.md); none full: the notice says so
            partial = (words.matched >= 1) & gen.live & ~mask
            relaxed = relaxed or not mask.any()
            mask |= partial
        coordination = words.coordination(policy)  # items with more of the query rank higher
        title = np.zeros(gen.doc_count)
        if len(terms) >= 2:
            # a title holding every word is about the query; one equal to it is the item looked for
            whole = words.in_title == len(terms)
            title[whole] += policy.title_all_words_boost * words.title_scores[whole]
            exact = gen.scoring.postings("title_exact", " ".join(terms))[0]
            title[exact] += policy.exact_title_boost * len(terms)
        scores = bm25 * coordination + title
        parts = {"bm25": bm25, "coordination": coordination, "title": title}
        marked = frozenset(a.term for g in groups for a in g)
        corrections = {g[0].word: next(a.word for a in g if a.kind == "typo") for g in groups if g[-1].kind == "typo"}
        return Plan(parsed, mask, scores, relaxed, marked, partial, tuple(groups), parts, corrections)

    @classmethod
    def _whoosh_mask(cls, q: wq.Query, gen: Generation, deadline: float = math.inf) -> np.ndarray:
        """Documents matching a parsed query, evaluated in numpy where possible.

        Boolean structure, terms (cached posting arrays) and date ranges (the per-generation
        ``published`` array) are array operations; so are words a pattern or range expands to
        (capped at ``MAX_WILDCARD_TERMS``). Only phrases are left to Whoosh. Past ``deadline``
        (``time.perf_counter()``) the query is refused as too expensive: no query shape may
        hold the generation for long.
        """
        if time.perf_counter() > deadline:
            raise QueryTooBroad("this query would take too long to match; use fewer or more specific parts")
        if isinstance(q, wq.Every):
            return gen.live.copy()
        if isinstance(q, type(wq.NullQuery)):
            return np.zeros(gen.doc_count, dtype=bool)
        if isinstance(q, wq.Term):
            text = q.text.decode("utf-8") if isinstance(q.text, bytes) else q.text
            return gen.scoring.mask_of(q.fieldname, text)
        if isinstance(q, wq.NumericRange) and q.fieldname == "published":
            mask = gen.live & (gen.published >= 0)
            if q.start is not None:
                mask &= gen.published > q.start if q.startexcl else gen.published >= q.start
            if q.end is not None:
                mask &= gen.published < q.end if q.endexcl else gen.published <= q.end
            return mask
        if isinstance(q, wq.AndNot):
            return cls._whoosh_mask(q.a, gen, deadline) & ~cls._whoosh_mask(q.b, gen, deadline)
        if isinstance(q, wq.AndMaybe):
            return cls._whoosh_mask(q.a, gen, deadline)
        if isinstance(q, wq.Not):
            return gen.live & ~cls._whoosh_mask(q.query, gen, deadline)
        if isinstance(q, (wq.And, wq.Or)) and type(q) in (wq.And, wq.Or):
            masks = [cls._whoosh_mask(child, gen, deadline) for child in q.children()]
            if not masks:
                return np.zeros(gen.doc_count, dtype=bool)
            return np.logical_and.reduce(masks) if isinstance(q, wq.And) else np.logical_or.reduce(masks)
        mask = np.zeros(gen.doc_count, dtype=bool)
        if isinstance(q, wq.MultiTerm):
            # wildcards, prefixes, fuzzy terms and term ranges: the union of the expanded words'
            # posting arrays. Whoosh would OR every word of a range ([a TO zy] is the whole
            # vocabulary) under the reader lock; here the words are capped and the time is bounded.
            with gen.lock:
                words = _expand(q, gen.reader, MAX_WILDCARD_TERMS + 1)
            if len(words) > MAX_WILDCARD_TERMS:
                raise QueryTooBroad(
                    f"'{_clip(q)}' matches more than {MAX_WILDCARD_TERMS:,} different words; type more letters"
                )
            for word in words:
                mask[gen.scoring.postings(q.fieldname, word.decode("utf-8"))[0]] = True
                if time.perf_counter() > deadline:
                    raise QueryTooBroad(f"'{_clip(q)}' would take too long to match; narrow it")
            return mask
        with gen.lock:
            mask[np.fromiter(gen.searcher.docs_for_query(q), dtype=np.int64)] = True
        return mask & gen.live

    def _hits(self, plan: Plan, request: SearchRequest, gen: Generation, final: np.ndarray) -> tuple[list[dict], int]:
        """The page of hits, and how many stories the matches belong to.

        Grouped (the default), a page lists the best item of each story, with the story's
        other matching items counted in ``more`` and the first few of them in ``more_items``.
        """
        docs = np.flatnonzero(final)
        story = gen.story[docs]
        per_story = np.bincount(story) if len(docs) else np.zeros(0, dtype=np.int64)  # matches per story
        stories = int(np.count_nonzero(per_story))
        wanted = request.offset + request.limit
        best = None
        if request.sort == "relevance":
            ranked = plan.scores[docs] * gen.prior[docs]
            if len(docs) and plan.terms:  # browsing ranks by quality alone
                best = np.zeros(int(story.max()) + 1)
                np.maximum.at(best, story, ranked)
                ranked = ranked + gen.policy.story_boost * best[story]
            key = -ranked
            if plan.partial is not None and len(docs):
                # every partial match after every full one, whatever the story boost gave it
                key = np.where(plan.partial[docs], key + ranked.max() + 1.0, key)
            keys: tuple[np.ndarray, ...] = (gen.tiebreak[docs], key)
        elif request.sort == "newest":
            ranked = None
            keys = (gen.tiebreak[docs], -gen.published[docs])
        else:
            ranked = None
            keys = (gen.tiebreak[docs], -gen.published[docs], -gen.quality[docs])
        order = _leading(keys, story if request.group else None, wanted)
        page = order[request.offset : wanted]
        if len(page) == 0:
            return [], stories
        members: list[np.ndarray] = []
        if request.group:
            for position in page:
                if per_story[story[position]] == 1:  # alone in its story: no scan of the matches
                    members.append(np.zeros(0, dtype=np.int64))
                    continue
                others = np.flatnonzero(story == story[position])
                others = others[others != position]
                members.append(others[np.lexsort(tuple(k[others] for k in keys))])
        with gen.lock:
            stored = [gen.searcher.stored_fields(int(docs[p])) for p in page]
            more_stored = [[gen.searcher.stored_fields(int(docs[p])) for p in m[:MORE_SHOWN]] for m in members]
        hits = [
            self._hit(fields, float(ranked[p]) if ranked is not None else None, set(plan.terms))
            for p, fields in zip(page, stored, strict=True)
        ]
        if plan.partial is not None:
            for hit, p in zip(hits, page, strict=True):
                hit["partial"] = bool(plan.partial[docs[p]])
        if request.explain and ranked is not None:
            for hit, p in zip(hits, page, strict=True):
                hit["explain"] = explain(plan, gen, int(docs[p]), float(best[story[p]]) if best is not None else None)
        for hit, others, shown in zip(hits, members, more_stored, strict=False):
            hit["more"] = len(others)
            hit["more_items"] = [self._member(fields) for fields in shown]
        return hits, stories

    @staticmethod
    def _member(stored: dict) -> dict:
        """The short form of a story's other item: enough to show and link it."""
        return {
            "url": stored.get("url", ""),
            "title": stored.get("title", ""),
            "provider": stored.get("provider", "") or stored.get("provider_domain", ""),
            "published": iso_utc(stored.get("published")),
            "kind": stored.get("kind", ""),
            "key": stored.get("key", ""),
        }

    @staticmethod
    def _hit(stored: dict, score: float | None, terms: set[str]) -> dict:
        title, excerpt = stored.get("title", ""), stored.get("excerpt", "")
        return {
            "url": stored.get("url", ""),
            "title": title,
            "excerpt": excerpt,
            "provider": stored.get("provider", ""),
            "provider_domain": stored.get("provider_domain", ""),
            "published": iso_utc(stored.get("published")),
            "quality": stored.get("quality"),
            "heat": stored.get("heat") if stored.get("heat", -1) >= 0 else None,
            "kind": stored.get("kind", ""),
            "topics": stored.get("topics") or [],
            "image": stored.get("image") or None,
            "score": round(score, 6) if score is not None else None,
            "key": stored.get("key", ""),
            "parents": stored.get("parents") or [],
            "sources": stored.get("sources") or [],
            "story": stored.get("story") or stored.get("key", ""),
            "more": 0,
            "more_items": [],
            "partial": False,
            "highlight": {
                "title": str(highlight.to_html(highlight.segments(title, terms))),
                "excerpt": str(highlight.to_html(highlight.snippet(excerpt, terms))),
            },
        }

    def _suggest(self, parsed: ParsedQuery, gen: Generation, fmasks, total: int) -> str | None:
        """A corrected query from the index's own words, only when it finds more."""
        if not parsed.plain or not parsed.words:
            return None
        with gen.lock:
            corrector = gen.searcher.corrector("vocabulary")
        changed = False
        words = []
        for word in parsed.words:
            low = fold(word).lower()
            if len(low) < 3 or low.isdigit() or gen.scoring.doc_frequency("vocabulary", low) > 0:
                words.append(word)
                continue
            # rank candidates by live statistics, so deleted documents never decide a suggestion
            ranked = sorted(
                (damerau_levenshtein(low, c), -df, c)
                for c in self._candidates(gen, corrector, low)
                if (df := gen.scoring.doc_frequency("vocabulary", c)) > 0
            )
            if ranked:
                words.append(ranked[0][2])
                changed = True
            else:
                words.append(word)
        if not changed:
            return None
        text = " ".join(words)
        mask = self._plan(text, gen).strict
        for fmask in fmasks.values():
            mask &= fmask
        return text if int(mask.sum()) > total else None

    @staticmethod
    def _candidates(gen: Generation, corrector, word: str) -> list[str]:
        with gen.lock:
            return list(corrector.suggest(word, limit=8, maxdist=2, prefix=1))

    # -- other answers -------------------------------------------------------

    def similar(self, url: str, limit: int = 10) -> dict[str, Any] | None:
        """Items most like the one at ``url`` (its most distinctive words, scored as a query); None if unknown."""
        gen = self.generation()
        try:
            key = canonical_url(url)
        except ValueError:  # not a URL at all ("http://[::1"): no such item
            return None
        found = gen.scoring.postings("key", key)[0]
        if len(found) == 0:
            return None
        docnum = int(found[0])
        with gen.lock:
            source = gen.searcher.stored_fields(docnum)
        # tf x idf over the item's own text; title words count twice
        weights: dict[str, float] = {}
        for text, factor in ((source.get("title", ""), 2.0), (source.get("excerpt", ""), 1.0)):
            for term in analyze(text):
                weights[term] = weights.get(term, 0.0) + factor * gen.scoring.idf("excerpt", term)
        terms = sorted(weights, key=lambda t: (-weights[t], t))[:SIMILAR_TERMS]
        words = WordScores.of([[Alternative(t, 1.0, "exact", t)] for t in terms], gen)
        mask = (words.matched > 0) & gen.live
        mask[docnum] = False
        scores = words.scores * words.matched / max(1, len(terms))
        parsed = ParsedQuery(" ".join(terms), wq.NullQuery, [], plain=False)
        plan = Plan(parsed, mask, scores, terms=frozenset(terms))
        hits, _ = self._hits(plan, SearchRequest(limit=limit, group=False), gen, mask)
        return {"url": source.get("url", url), "title": source.get("title", ""), "terms": terms, "hits": hits}

    def stored_documents(self) -> Iterator[dict[str, Any]]:
        """The stored fields of every live document of the live generation, in index order."""
        gen = self.generation()
        for docnum in np.flatnonzero(gen.live).tolist():
            with gen.lock:
                stored = gen.searcher.stored_fields(docnum)
            yield stored

    def suggest_titles(self, prefix: str, limit: int = 8) -> list[str]:
        """Titles for autocomplete: items whose title has words starting like ``prefix``."""
        prefix = prefix.strip()
        if len(prefix) < 2:
            return []
        request = SearchRequest(q=prefix if prefix.endswith(" ") else prefix + "*", limit=limit)
        try:
            result = self.search(request)
        except Exception:  # noqa: BLE001 - autocomplete must never fail the page
            return []
        return [hit["title"] for hit in result["hits"]]

    def stats(self) -> dict[str, Any]:
        """Size and freshness of the live generation."""
        gen = self.generation()
        size = sum(p.stat().st_size for p in gen.path.iterdir() if p.is_file())
        manifest = gen.manifest
        return {
            "index": str(self.index_dir),
            "generation": gen.name,
            "documents": int(gen.live.sum()),
            "files": len(manifest.get("files", {})),
            "skipped_files": len(manifest.get("problems", [])),
            "fields": sorted(gen.index.schema.names()),
            "size_bytes": size,
            "last_update": iso_utc(dt.datetime.fromtimestamp(manifest.get("built_at", 0), dt.timezone.utc), "seconds"),
            "last_update_mode": manifest.get("mode", ""),
            "facets": {f: len(t.values) for f, t in gen.facets.items()},
        }

    def has_url(self, url: str) -> bool:
        """Whether the live generation holds the item at ``url`` (same canonical key as ``similar``)."""
        try:
            key = canonical_url(url)
        except ValueError:  # not a URL at all (e.g. a bad port or an unclosed IPv6 bracket)
            return False
        gen = self.generation()
        # straight from the term index, not the postings cache: junk URLs sent by clients must not evict it
        with gen.lock:
            docnums = list(gen.searcher.document_numbers(key=key))
        return bool(gen.live[docnums].any()) if docnums else False

    def health(self) -> str | None:
        """Why the live generation cannot answer, or None when it can; cheap enough to poll.

        The open reader outlives its files (Linux keeps deleted files readable), so the files
        themselves are checked: a directory listing and one stored document, no new generation.
        A directory rebuilt under the same name (the index folder deleted, then built again) is
        opened in the background here, since ``generation()`` only notices a new name.
        """
        try:
            gen = self.generation()
        except generations.IndexMissing as exc:
            return str(exc)
        try:
            names = {p.name for p in gen.path.iterdir()}
        except OSError:
            names = set()
        if not names or any(not any(n.startswith(s.segment_id() + ".") for n in names) for s in gen.reader.segments()):
            try:
                path = generations.current_generation(self.index_dir)
            except generations.IndexMissing:
                path = None
            with self._lock:
                if path == gen.path and self._loading != path:
                    self._loading = path
                    threading.Thread(target=self._load, args=(path,), name="open-generation", daemon=True).start()
            return f"index generation {gen.name} is gone from disk; waiting for a rebuilt index ('search-cli index')"
        try:
            with gen.lock:
                if gen.doc_count:
                    gen.reader.stored_fields(0)
        except Exception as exc:  # noqa: BLE001 - any failure to read means it cannot answer
            return f"index generation {gen.name} cannot be read ({type(exc).__name__})"
        return None


def _corrected(text: str, corrections: dict[str, str]) -> str:
    """The query as the results read it: each misspelt word replaced by its best spelling."""
    return _WORD.sub(lambda m: corrections.get(fold(m.group()).lower(), m.group()), text).strip()


def _typing(request: SearchRequest) -> dict[str, bool]:
    """How a request's words are expanded: the last one as a prefix unless the query ends in a space."""
    return {"prefix_last": request.prefix and not request.q.endswith(" "), "typos": request.typos}


def _narrowed(mask: np.ndarray, filters: dict[str, np.ndarray], except_field: str | None = None) -> np.ndarray:
    """``mask`` and every filter mask but ``except_field``'s own (a new array)."""
    result = mask.copy()
    for field, fmask in filters.items():
        if field != except_field:
            result &= fmask
    return result


def iso_utc(value: object, timespec: str = "auto") -> str | None:
    """RFC 3339 text of a datetime in UTC ('2020-06-11T17:56:00Z'); naive values are UTC. None if not a datetime."""
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def _leading(keys: tuple[np.ndarray, ...], story: np.ndarray | None, wanted: int) -> np.ndarray:
    """Positions in rank order (``np.lexsort`` keys, last is primary), enough for ``wanted`` results.

    With ``story``, only the first (best) position of each story is kept. Only a shortlist is
    sorted when it already holds ``wanted`` stories: ties with its last entry are kept, so the
    tie-break decides, not chance.
    """
    total = len(keys[0])
    shortlist = wanted * 4 if story is not None else wanted
    while True:
        if len(keys) == 2 and shortlist < total:
            primary = keys[-1]
            cut = np.partition(primary, shortlist - 1)[shortlist - 1]
            candidates = np.flatnonzero(primary <= cut)
        else:
            candidates = np.arange(total)
        order = candidates[np.lexsort(tuple(k[candidates] for k in keys))]
        if story is None:
            return order
        _, first = np.unique(story[order], return_index=True)
        leaders = order[np.sort(first)]
        if len(leaders) >= wanted or len(candidates) == total:
            return leaders
        shortlist *= 4


def _story_ordinals(reader, doc_count: int) -> np.ndarray:
    """Per-document story ordinal from the story hash column (each item alone in older indexes)."""
    if "story_hash" not in reader.schema:
        return np.arange(doc_count, dtype=np.int32)
    _, ordinals = np.unique(_column_array(reader, "story_hash"), return_inverse=True)
    return ordinals.astype(np.int32)


def _column_array(reader, field: str) -> np.ndarray:
    """A sortable column's raw integer values for every document, over every segment."""
    fieldobj = reader.schema[field]
    # signed numbers are stored shifted by half their range so they sort as unsigned
    signed_numeric = getattr(fieldobj, "signed", False) and not isinstance(fieldobj, DATETIME)
    shift = 1 << (fieldobj.bits - 1) if signed_numeric else 0
    parts = []
    for sub, _offset in reader.leaf_readers():
        values = column_values(sub.column_reader(field), sub.doc_count_all())
        if values.dtype.kind == "u" and not shift:  # unsigned: a document without a value holds the maximum
            values = np.where(values >= 2**63, 0, values).astype(np.int64) - (values >= 2**63)
        parts.append(values.astype(np.int64) - shift)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _scoring_terms(q: wq.Query, reader) -> list[tuple[str, str]]:
    """(field, text) of the positive text terms of a query, wildcards expanded, in a stable order."""
    found: dict[tuple[str, str], None] = {}

    def walk(node: wq.Query) -> None:
        if isinstance(node, wq.Not):
            return
        if isinstance(node, wq.AndNot):
            walk(node.a)
            return
        if node.is_leaf():
            if getattr(node, "fieldname", None) not in TEXT_FIELDS:
                return  # facet values, dates and numbers filter; they do not score
            if isinstance(node, wq.MultiTerm):  # never list a whole range's words just to keep a few
                terms = [(node.fieldname, text) for text in _expand(node, reader, MAX_EXPANSIONS)]
            else:
                try:
                    terms = list(node.existing_terms(reader, phrases=True, expand=False))[:MAX_EXPANSIONS]
                except Exception:  # noqa: BLE001 - leaves without terms do not score
                    return
            for field, text in terms:
                if field in TEXT_FIELDS:
                    found[(field, text.decode("utf-8") if isinstance(text, bytes) else text)] = None
            return
        for child in node.children():
            walk(child)

    walk(q)
    return list(found)


def _expand(q: wq.MultiTerm, reader, limit: int) -> list[bytes]:
    """At most ``limit`` index words a pattern, fuzzy term or range stands for (hold the reader lock)."""
    return list(islice(q._btexts(reader), limit))


def _clip(q: wq.Query, size: int = 40) -> str:
    """A query part as the user might recognise it, short enough for a message."""
    text = str(q)
    return text if len(text) <= size else text[: size - 1] + "…"
