"""The searcher: one request in, one JSON-ready answer out, the same for CLI, page and API."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import collectors, sorting
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.query.qcore import QueryError
from whoosh.support.levenshtein import damerau_levenshtein

from indexer import generations
from indexer.schema import FACET_FIELDS, TEXT_FIELDS

from . import highlight
from .facets import FacetTable, fold
from .query import ParsedQuery, parse, words_only
from .ranking import LiveStats, PriorBM25F, deleted_docnums, quality_prior
from .request import SearchRequest

FACET_SIZE = {"topics": 20, "provider": 20, "year": 30, "month": 24, "kind": 2}
SUGGEST_BELOW = 3  # offer did-you-mean when a query finds fewer hits than this

log = logging.getLogger(__name__)


@dataclass
class Generation:
    """One opened index generation and everything derived from it once."""

    name: str
    path: Path
    index: Any
    doc_count: int
    facets: dict[str, FacetTable]
    prior: np.ndarray
    live: np.ndarray  # documents not deleted
    stats: LiveStats
    manifest: dict

    @classmethod
    def open(cls, path: Path) -> "Generation":
        """Open a generation directory and precompute facet arrays and priors."""
        ix = whoosh_index.open_dir(str(path))
        with ix.reader() as reader:
            n = reader.doc_count_all()
            facets = {f: FacetTable.from_reader(reader, f) for f in FACET_FIELDS}
            quality = np.fromiter(reader.column_reader("quality"), dtype=np.int64, count=n)
            tiebreak = np.fromiter(reader.column_reader("tiebreak"), dtype=np.float64, count=n)
            live = np.ones(n, dtype=bool)
            live[deleted_docnums(reader)] = False
            stats = LiveStats.from_reader(reader)
        # the tie-break factor is far below any real score difference but orders exact ties by URL
        prior = quality_prior(quality) * (1.0 + 1e-9 * tiebreak / 2**31)
        return cls(path.name, path, ix, n, facets, prior, live, stats, generations.read_manifest(path))

    def resolve(self, field: str, value: str) -> str | None:
        """Canonical spelling of a facet value, or None when no document has it."""
        table = self.facets.get(field)
        return table.resolve(value) if table else value


class SearchEngine:
    """Answers search requests from the live generation of an index directory.

    The live generation is re-checked at most every ``refresh_seconds``; a new one is opened
    beside the old, and requests in flight finish on the generation they started with.
    """

    def __init__(self, index_dir: Path | str, refresh_seconds: float = 1.0) -> None:
        self.index_dir = Path(index_dir)
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        self._checked = 0.0
        self._loading: Path | None = None
        self._local = threading.local()

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
                self._generation = Generation.open(path)
            elif gen.path != path and self._loading != path:
                self._loading = path
                threading.Thread(target=self._load, args=(path,), name="open-generation", daemon=True).start()
            return self._generation

    def _load(self, path: Path) -> None:
        try:
            fresh = Generation.open(path)
        except Exception:
            log.exception("could not open index generation %s", path)
            fresh = None
        with self._lock:
            if fresh is not None:
                self._generation = fresh
            self._loading = None

    def _searcher(self, gen: Generation):
        local = self._local
        if getattr(local, "name", None) != gen.name:
            old = getattr(local, "searcher", None)
            if old is not None:
                old.close()
            local.searcher = gen.index.searcher(weighting=PriorBM25F(gen.prior, gen.stats))
            local.name = gen.name
        return local.searcher

    # -- searching ---------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """Ranked hits, disjunctive facet counts and a did-you-mean for one request."""
        started = time.perf_counter()
        gen = self.generation()
        searcher = self._searcher(gen)
        parsed = self._parse(request.q, gen, searcher)
        qmask = self._match_mask(parsed.query, gen, searcher)
        fmasks = {
            field: gen.facets[field].mask(values, gen.doc_count)
            for field in FACET_FIELDS
            if (values := request.filter_values(field))
        }
        strict_total = int(np.logical_and.reduce([qmask, *fmasks.values()]).sum())
        suggestion = (
            self._suggest(parsed, gen, searcher, fmasks, strict_total) if strict_total < SUGGEST_BELOW else None
        )
        relaxed = False
        if parsed.plain and not qmask.any() and len(parsed.words) >= 2:
            # no item has every word: show the items that have most of them
            parsed = parse(request.q, gen.index.schema, gen.resolve, relaxed=True)
            qmask = self._match_mask(parsed.query, gen, searcher)
            relaxed = True

        final = qmask.copy()
        for mask in fmasks.values():
            final &= mask
        total = int(final.sum())

        facets = {}
        for field in FACET_FIELDS:
            # disjunctive: each facet is counted under every filter except its own
            mask = qmask.copy()
            for other, fmask in fmasks.items():
                if other != field:
                    mask &= fmask
            table = gen.facets[field]
            facets[field] = table.summarize(table.counts(mask), request.filter_values(field), FACET_SIZE[field])

        hits = self._hits(parsed, request, gen, searcher, final, total)
        return {
            "query": request.q,
            "total": total,
            "page": request.page,
            "limit": request.limit,
            "pages": max(1, math.ceil(total / request.limit)),
            "sort": request.sort,
            "filters": {f: request.filter_values(f) for f in FACET_FIELDS if request.filter_values(f)},
            "hits": hits,
            "facets": facets,
            "suggestion": suggestion,
            "relaxed": relaxed,
            "generation": gen.name,
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    def _parse(self, text: str, gen: Generation, searcher) -> ParsedQuery:
        parsed = parse(text, gen.index.schema, gen.resolve)
        if not parsed.text:
            parsed.query = wq.Every()
            return parsed
        try:  # some problems only show when the query meets the index
            searcher.docs_for_query(parsed.query)
        except QueryError:
            parsed = words_only(parsed)
        return parsed

    @staticmethod
    def _match_mask(q: wq.Query, gen: Generation, searcher) -> np.ndarray:
        mask = np.zeros(gen.doc_count, dtype=bool)
        if isinstance(q, wq.Every):
            return gen.live.copy()
        if q is wq.NullQuery:
            return mask
        ids = np.fromiter(searcher.docs_for_query(q), dtype=np.int64)
        mask[ids] = True
        return mask & gen.live

    def _hits(self, parsed, request, gen, searcher, final: np.ndarray, total: int) -> list[dict]:
        if total == 0 or request.offset >= total:
            return []
        allow = set(np.flatnonzero(final).tolist()) if request.filters else None
        sortedby = None
        if request.sort == "newest":
            sortedby = sorting.MultiFacet(
                [sorting.FieldFacet("published", reverse=True), sorting.FieldFacet("tiebreak")]
            )
        elif request.sort == "quality":
            sortedby = sorting.MultiFacet(
                [
                    sorting.FieldFacet("quality", reverse=True),
                    sorting.FieldFacet("published", reverse=True),
                    sorting.FieldFacet("tiebreak"),
                ]
            )
        results = _top(searcher, parsed.query, request.offset + request.limit, sortedby, allow)
        terms = {text.decode() if isinstance(text, bytes) else text for f, text in _query_terms(parsed.query)}
        hits = []
        relevance = sortedby is None  # with a sort order, hit.score is the sort key, not a score
        for hit in list(results)[request.offset :]:
            hits.append(self._hit(hit.fields(), hit.score if relevance else None, terms))
        return hits

    @staticmethod
    def _hit(stored: dict, score: float | None, terms: set[str]) -> dict:
        published = stored.get("published")
        title, excerpt = stored.get("title", ""), stored.get("excerpt", "")
        return {
            "url": stored.get("url", ""),
            "title": title,
            "excerpt": excerpt,
            "provider": stored.get("provider", ""),
            "provider_domain": stored.get("provider_domain", ""),
            "published": published.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z")
            if isinstance(published, dt.datetime)
            else None,
            "quality": stored.get("quality"),
            "heat": stored.get("heat") if stored.get("heat", -1) >= 0 else None,
            "kind": stored.get("kind", ""),
            "topics": stored.get("topics") or [],
            "image": stored.get("image") or None,
            "score": round(float(score), 6) if score is not None else None,
            "key": stored.get("key", ""),
            "parents": stored.get("parents") or [],
            "sources": stored.get("sources") or [],
            "highlight": {
                "title": str(highlight.to_html(highlight.segments(title, terms))),
                "excerpt": str(highlight.to_html(highlight.snippet(excerpt, terms))),
            },
        }

    def _suggest(self, parsed, gen, searcher, fmasks, total: int) -> str | None:
        """A corrected query from the index's own words, only when it finds more."""
        if not parsed.plain or not parsed.words:
            return None
        corrector = searcher.corrector("vocabulary")
        reader = searcher.reader()
        changed = False
        words = []
        for word in parsed.words:
            low = fold(word).lower()
            if len(low) < 3 or low.isdigit() or gen.stats.doc_frequency(reader, "vocabulary", low) > 0:
                words.append(word)
                continue
            # rank candidates by live statistics, so deleted documents never decide a suggestion
            ranked = sorted(
                (damerau_levenshtein(low, c), -df, c)
                for c in corrector.suggest(low, limit=8, maxdist=2, prefix=1)
                if (df := gen.stats.doc_frequency(reader, "vocabulary", c)) > 0
            )
            if ranked:
                words.append(ranked[0][2])
                changed = True
            else:
                words.append(word)
        if not changed:
            return None
        text = " ".join(words)
        fixed = parse(text, gen.index.schema, gen.resolve)
        mask = self._match_mask(fixed.query, gen, searcher)
        for fmask in fmasks.values():
            mask &= fmask
        return text if int(mask.sum()) > total else None

    # -- other answers -------------------------------------------------------

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
            "last_update": dt.datetime.fromtimestamp(manifest.get("built_at", 0), dt.timezone.utc)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "last_update_mode": manifest.get("mode", ""),
            "facets": {f: len(t.values) for f, t in gen.facets.items()},
        }


def _top(searcher, q: wq.Query, limit: int, sortedby, allow: set[int] | None):
    """Top ``limit`` hits, without Whoosh's matcher pruning.

    Whoosh prunes sub-matchers by comparing their raw-score bounds with the lowest score
    kept so far; with a prior applied in ``final`` those are different scales, and pruning
    dropped true top hits (the exact title missing at limit=1). Correctness first.
    """
    if sortedby is not None:
        collector = collectors.SortingCollector(sortedby, limit=limit)
    else:
        collector = collectors.TopCollector(limit, usequality=False, replace=0)
    if allow is not None:
        collector = collectors.FilterCollector(collector, allow)
    searcher.search_with_collector(q, collector)
    return collector.results()


def _query_terms(q: wq.Query) -> set[tuple[str, str]]:
    """(field, text) of the positive text terms of a query, for highlighting."""
    found: set[tuple[str, str]] = set()

    def walk(node: wq.Query) -> None:
        if isinstance(node, wq.Not):
            return
        if isinstance(node, wq.AndNot):
            walk(node.a)
            return
        if node.is_leaf():
            try:
                for field, text in node.terms(phrases=True):
                    if field in TEXT_FIELDS:
                        found.add((field, text))
            except Exception:  # noqa: BLE001 - wildcard/range leaves have no fixed terms
                pass
            return
        for child in node.children():
            walk(child)

    walk(q)
    return found
