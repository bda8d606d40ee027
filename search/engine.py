"""The searcher: one request in, one answer out, the same for the command line, the page and the API.

``SearchEngine`` wires the parts, each in its own module: the live generation and its arrays
(``generation``), the answer cache (``cache``), query evaluation (``evaluate``), the page of hits
(``hits``), did-you-mean and more-like-this (``suggest``); ranking constants and rules live in
one policy (``ranking``). ``public_answer`` turns an answer into the JSON the API and
``search-cli query --json`` print.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from indexer.schema import FACET_FIELDS, FACETS

from . import highlight, semantic, suggest, timeline
from .evaluate import filter_mask, plan
from .facets import JOINT_FROM, fold
from .generation import Generation, LiveGeneration
from .hits import iso_utc, page_of_hits
from .ranking import POLICY, RankingPolicy
from .request import FILTER_FIELDS, SearchRequest, toggler

SUGGEST_BELOW = 3  # offer did-you-mean when a query finds fewer hits than this
RESULT_CACHE_ENTRIES = 1_024

_WORD = re.compile(r"\w+(?:'\w+)*")


class SearchEngine:
    """Answers search requests from the live generation of an index directory."""

    def __init__(
        self,
        index_dir: Path | str,
        refresh_seconds: float = 1.0,
        cache_entries: int = RESULT_CACHE_ENTRIES,
        policy: RankingPolicy = POLICY,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.policy = policy
        self._live = LiveGeneration(self.index_dir, policy, refresh_seconds, cache_entries)

    def generation(self) -> Generation:
        """The live generation (IndexMissing when there is none)."""
        return self._live.get()

    def health(self) -> str | None:
        """Why the live generation cannot answer, or None when it can (see ``LiveGeneration.health``)."""
        return self._live.health()

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """Ranked hits, disjunctive facet counts, a timeline and a did-you-mean for one request.

        Answers are cached per generation, and identical requests arriving together are
        computed once (``cache.AnswerCache``).
        """
        started = time.perf_counter()
        gen = self.generation()
        answer, _cached = gen.answers.get_or_compute(request, lambda: self._search(request, gen, started))
        return {**answer, "took_ms": round((time.perf_counter() - started) * 1000, 2)}

    def _search(self, request: SearchRequest, gen: Generation, started: float) -> dict[str, Any]:
        found = plan(request.q, gen, **_typing(request))
        fmasks = {
            field: filter_mask(gen, field, values)
            for field in FILTER_FIELDS
            if (values := request.filter_values(field))
        }
        strict_total = int(np.count_nonzero(_narrowed(found.strict, fmasks) if fmasks else found.strict))
        suggestion = None
        if strict_total < SUGGEST_BELOW:
            suggestion = suggest.did_you_mean(found.parsed, gen, list(fmasks.values()), strict_total)
        if found.parsed.plain and not found.mask.any() and len(found.parsed.words) >= 2:
            # no item has every word: show the items that have most of them
            found = plan(request.q, gen, relaxed=True, **_typing(request))

        final = _narrowed(found.mask, fmasks) if fmasks else found.mask  # read, never changed
        total = int(np.count_nonzero(final))  # a bool array's sum() converts every element first
        corrected = _corrected(request.q, found.corrections) if found.corrections and total else None
        also = _other_spellings(found) if corrected else []
        if corrected:
            suggestion = None  # the results already come from the correction; the page says so

        # disjunctive: each facet, and the timeline, is counted under every filter except its own
        facets, facet_meta = {}, {}
        toggle = toggler(request)
        final_docs = np.flatnonzero(final)  # what every facet without a filter of its own counts
        # matching most live items, those are counted as all live items less the ones left out (fewer to read)
        left_out = np.flatnonzero(gen.live & ~final) if 2 * len(final_docs) > np.count_nonzero(gen.live) else None
        counted = final_docs if left_out is None else left_out
        # many documents: the single-valued facets in one pass (those with a filter of their own are recounted)
        together = gen.joint_facets().counts(counted) if len(counted) >= JOINT_FROM else {}
        for field in FACET_FIELDS:
            table = gen.facets[field]
            if field in fmasks:
                counts = table.counts(np.flatnonzero(_narrowed(found.mask, fmasks, field)))
            elif left_out is not None:
                counts = table.counts_but(gen.live, left_out, together.get(field))
            else:
                counts = together[field] if field in together else table.counts(final_docs)
            facets[field], truncated = table.summarize(counts, request.filter_values(field), toggle)
            facet_meta[field] = {"label": FACETS[field].label, "truncated": truncated}
        histogram = gen.calendar.histogram(
            np.flatnonzero(_narrowed(found.mask, fmasks, "date")) if "date" in fmasks else final_docs
        )
        selected = set(request.filter_values("date"))
        for bucket in histogram["buckets"]:
            bucket["selected"] = timeline.bucket_period(bucket) in selected

        meaning = None
        if request.sort == "relevance" and found.parsed.plain and found.terms and total:
            # the text as typed: its correction, embedded instead, lowered the tuning half (typo -0.023)
            meaning = semantic.query_meaning(gen, request.q)
        hits, stories = page_of_hits(found, request, gen, final, final_docs, meaning)
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
            "facet_meta": facet_meta,
            "timeline": histogram,
            "suggestion": suggestion,
            "corrected": corrected,
            "corrected_also": also,  # other close spellings the misspelt words also matched
            "relaxed": found.relaxed,
            "partial": int(np.count_nonzero(final & found.partial)) if found.partial is not None else 0,
            "generation": gen.name,
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    def similar(self, url: str, limit: int = 10) -> dict[str, Any] | None:
        """Items most like the one at ``url``; None if no item has that URL."""
        return suggest.similar(self.generation(), url, limit)

    def item(self, key: str) -> dict[str, Any] | None:
        """The stored fields of the live item at this address (or key), or None."""
        gen = self.generation()
        docs = gen.live_docs(key)
        return gen.stored(int(docs[0])) if len(docs) else None

    def suggest_titles(self, prefix: str, limit: int = 8) -> list[str]:
        """Titles for autocomplete: items whose title has words starting like ``prefix``."""
        prefix = prefix.strip()
        if len(prefix) < 2:
            return []
        try:
            result = self.search(SearchRequest(q=prefix, limit=limit))
        except Exception:  # noqa: BLE001 - autocomplete must never fail the page
            return []
        return [hit["title"] for hit in result["hits"]]

    def stored_documents(self) -> Iterator[dict[str, Any]]:
        """The stored fields of every live document of the live generation, in index order.

        With its event story: ``story``, the key of the story's earliest item.
        """
        for _, stored in self.live_items(self.generation()):
            yield stored

    def live_items(self, gen: Generation) -> Iterator[tuple[int, dict[str, Any]]]:
        """(document number, stored fields with ``story``) of every live document of ``gen``, in index order."""
        keys: dict[int, str] = {}
        for docnum in np.flatnonzero(gen.live).tolist():
            stored = gen.stored(docnum)
            leader = int(gen.story[docnum])
            if leader not in keys:
                keys[leader] = stored["key"] if leader == docnum else gen.stored(leader)["key"]
            yield docnum, {**stored, "story": keys[leader]}

    def stats(self) -> dict[str, Any]:
        """Size and freshness of the live generation."""
        gen = self.generation()
        size = sum(p.stat().st_size for p in gen.path.iterdir() if p.is_file())
        manifest = gen.manifest
        return {
            "index": str(self.index_dir),
            "generation": gen.name,
            "documents": int(gen.live.sum()),
            "files": manifest.get("file_count", len(manifest.get("files", {}))),  # a manifest before files.bin: inline
            "skipped_files": len(manifest.get("problems", [])),
            "fields": sorted(gen.store.field_names()),
            "size_bytes": size,
            "last_update": iso_utc(dt.datetime.fromtimestamp(manifest.get("built_at", 0), dt.timezone.utc), "seconds"),
            "last_update_mode": manifest.get("mode", ""),
            "facets": {f: len(t.values) for f, t in gen.facets.items()},
        }

    def has_url(self, url: str) -> bool:
        """Whether the live generation holds the item at ``url`` (same canonical key as ``similar``)."""
        return len(self.generation().live_docs(url)) > 0


def public_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer as JSON shows it: highlight segments as escaped HTML with ``<mark>`` around matches."""
    return {**answer, "hits": [_public_hit(hit) for hit in answer["hits"]]}


def _public_hit(hit: dict[str, Any]) -> dict[str, Any]:
    marked = {part: str(highlight.to_html(segments)) for part, segments in hit["highlight"].items()}
    return {**hit, "highlight": marked}


def _corrected(text: str, corrections: dict[str, str]) -> str:
    """The query as the results read it: each misspelt word replaced by its best spelling."""
    return _WORD.sub(lambda m: corrections.get(fold(m.group()).lower(), m.group()), text).strip()


def _other_spellings(found) -> list[str]:
    """The close spellings a misspelt word also stood for, besides the one the page names."""
    best = set(found.corrections.values())
    typos = {a.word for group in found.scored if isinstance(group, list) for a in group if a.kind == "typo"}
    return sorted(typos - best)


def _typing(request: SearchRequest) -> dict[str, bool]:
    """How a request's words are expanded: the last one as a prefix while it is being typed."""
    return {"prefix_last": request.prefix and request.last_word_open, "typos": request.typos}


def _narrowed(mask: np.ndarray, filters: dict[str, np.ndarray], except_field: str | None = None) -> np.ndarray:
    """``mask`` and every filter mask but ``except_field``'s own (a new array)."""
    result = mask.copy()
    for field, fmask in filters.items():
        if field != except_field:
            result &= fmask
    return result
