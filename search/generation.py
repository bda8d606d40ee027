"""Index generations as the searcher sees them: one opened, with its arrays, and the live one over time.

``Generation`` is everything derived once from one generation directory (facet tables, prior,
dates, story ordinals, live statistics, scoring data), read through the storage adapter.
``LiveGeneration`` follows an index directory: it re-checks which generation is live at most every
``refresh_seconds``, opens a new one beside the old (requests in flight finish on the one they
started with) and tells whether the live one can still answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import generations
from indexer.analysis import remember_stems
from indexer.schema import FACET_FIELDS
from indexer.storage import Store

from . import timeline
from .cache import AnswerCache
from .expansion import Vocabulary
from .facets import FacetTable
from .livestats import LiveStats
from .ranking import RankingPolicy
from .scorer import ScoringData

log = logging.getLogger(__name__)


@dataclass
class Generation:
    """One opened index generation and everything derived from it once."""

    name: str
    path: Path
    store: Store
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
    answers: AnswerCache  # answers computed on this generation: never stale, dropped with it
    _vocabulary: Vocabulary | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: Path, policy: RankingPolicy, cache_entries: int) -> Generation:
        """Open a generation directory and precompute facet arrays, priors and statistics."""
        store = Store(path)
        stems = path / generations.STEMS
        if stems.is_file():  # words the index has seen need no stemmer (no NLTK import) at query time
            remember_stems(json.loads(stems.read_text(encoding="utf-8")))
        n = store.doc_count
        deleted = store.deleted()
        live = np.ones(n, dtype=bool)
        live[deleted] = False
        quality, tiebreak, published = store.column("quality"), store.column("tiebreak"), store.column("published")
        stats = LiveStats.from_store(store, deleted)
        # the tie-break factor is far below any real score difference but orders exact ties by URL
        prior = policy.quality_prior(quality) * (1.0 + 1e-9 * tiebreak / 2**31)
        return cls(
            name=path.name,
            path=path,
            store=store,
            doc_count=n,
            facets={f: FacetTable.from_store(store, f, live) for f in FACET_FIELDS},
            prior=prior,
            tiebreak=tiebreak,
            published=published,
            quality=quality,
            live=live,
            story=_story_ordinals(store),
            calendar=timeline.Calendar.of(published),
            stats=stats,
            scoring=ScoringData.build(store, live, stats, policy),
            policy=policy,
            manifest=generations.read_manifest(path),
            answers=AnswerCache(cache_entries),
        )

    def resolve(self, field: str, value: str) -> str | None:
        """Canonical spelling of a facet value, or None when no document has it."""
        table = self.facets.get(field)
        return table.resolve(value) if table else value

    def vocabulary(self) -> Vocabulary:
        """The unstemmed words of live documents with their frequencies (read on first use)."""
        if self._vocabulary is None:
            deleted = self.stats.deleted_df
            pairs = [(w, df - deleted.get(("vocabulary", w), 0)) for w, df in self.store.words("vocabulary")]
            self._vocabulary = Vocabulary([w for w, _ in pairs], np.asarray([df for _, df in pairs]))
        return self._vocabulary

    def stored(self, docnum: int) -> dict:
        """The stored fields of one document."""
        return self.store.stored(docnum)

    def missing_files(self) -> bool:
        """Whether files the open reader reads are gone from disk (the index was deleted or replaced)."""
        try:
            names = {p.name for p in self.path.iterdir()}
        except OSError:
            return True
        return not names or any(not any(n.startswith(s + ".") for n in names) for s in self.store.segment_ids())


def _story_ordinals(store: Store) -> np.ndarray:
    """Per-document story ordinal from the story hash column (each item alone in older indexes)."""
    if "story_hash" not in store.field_names():
        return np.arange(store.doc_count, dtype=np.int32)
    _, ordinals = np.unique(store.column("story_hash"), return_inverse=True)
    return ordinals.astype(np.int32)


class LiveGeneration:
    """The live generation of an index directory, swapped for a newer one in the background."""

    def __init__(self, index_dir: Path, policy: RankingPolicy, refresh_seconds: float, cache_entries: int) -> None:
        self.index_dir = index_dir
        self.policy = policy
        self.refresh_seconds = refresh_seconds
        self.cache_entries = cache_entries
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        self._checked = 0.0
        self._loading: Path | None = None

    def get(self) -> Generation:
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
                self._generation = Generation.open(path, self.policy, self.cache_entries)
            elif gen.path != path:
                self._load_in_background(path)
            return self._generation

    def health(self) -> str | None:
        """Why the live generation cannot answer, or None when it can; cheap enough to poll.

        The open reader outlives its files (Linux keeps deleted files readable), so the files
        themselves are checked: a directory listing and one stored document, no new generation.
        A directory rebuilt under the same name (the index folder deleted, then built again) is
        opened in the background here, since ``get()`` only notices a new name.
        """
        try:
            gen = self.get()
        except generations.IndexMissing as exc:
            return str(exc)
        if gen.missing_files():
            try:
                path = generations.current_generation(self.index_dir)
            except generations.IndexMissing:
                path = None
            if path == gen.path:
                with self._lock:
                    self._load_in_background(path)
            return f"index generation {gen.name} is gone from disk; waiting for a rebuilt index ('search-cli index')"
        try:
            if gen.doc_count:
                gen.stored(0)
        except Exception as exc:  # noqa: BLE001 - any failure to read means it cannot answer
            return f"index generation {gen.name} cannot be read ({type(exc).__name__})"
        return None

    def _load_in_background(self, path: Path) -> None:
        """Open ``path`` in a thread and make it live when ready (call with ``_lock`` held)."""
        if self._loading == path:
            return
        self._loading = path
        threading.Thread(target=self._load, args=(path,), name="open-generation", daemon=True).start()

    def _load(self, path: Path) -> None:
        try:
            fresh = Generation.open(path, self.policy, self.cache_entries)
        except Exception:
            log.exception("could not open index generation %s", path)
            fresh = None
        with self._lock:
            if fresh is not None:
                self._generation = fresh
            self._loading = None
