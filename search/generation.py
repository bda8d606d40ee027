"""Index generations as the searcher sees them: one opened, with its arrays, and the live one over time.

``Generation`` is one generation directory opened: the arrays its build derived (facet ordinals,
columns, story ordinals, live statistics, vocabulary, posting lists: ``indexer.persisted``), mapped
read-only and shared by every process through the page cache, and the few per-process objects
over them (the quality prior, the timeline calendar, caches).
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

from indexer import generations, persisted, vectors
from indexer.analysis import remember_stems
from indexer.persisted import Derived
from indexer.schema import FACET_FIELDS
from indexer.storage import Store
from indexer.text import canonical_url

from . import timeline
from .cache import AnswerCache
from .compounds import Pairs
from .expansion import Vocabulary
from .facets import FacetTable, JointCounts
from .livestats import LiveStats
from .ranking import RankingPolicy
from .scorer import ScoringData

log = logging.getLogger(__name__)


def _vectors_of(path: Path, doc_count: int) -> vectors.Vectors | None:
    """The generation's item vectors, when it was embedded and they are its own (one row per document)."""
    held = vectors.load(path)
    if held is not None and len(held.rows) != doc_count:
        log.warning(
            "%s: item vectors of another build (%d rows, %d items): ignored", path.name, len(held.rows), doc_count
        )
        return None
    return held


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
    answers: AnswerCache  # answers computed on this generation: never stale, dropped with it
    derived: Derived = field(repr=False)
    vectors: vectors.Vectors | None = field(default=None, repr=False)  # item vectors (search.semantic), if built
    mapped: bool = False  # whether the derived arrays are mapped from the build's files (else computed here)
    _vocabulary: Vocabulary | None = field(default=None, repr=False)
    _manifest: dict | None = field(default=None, repr=False)
    _story_order: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _joint_facets: JointCounts | None = field(default=None, repr=False)
    _compound_pairs: Pairs = field(default_factory=Pairs, repr=False)

    @classmethod
    def open(cls, path: Path, policy: RankingPolicy, cache_entries: int) -> Generation:
        """Open a generation directory: map the arrays its build derived (or derive them, for an older build)."""
        store = Store(path)
        stems = path / generations.STEMS
        if stems.is_file():  # words the index has seen need no stemmer (no NLTK import) at query time
            remember_stems(json.loads(stems.read_text(encoding="utf-8")))
        derived = persisted.load(path)
        if derived is not None and derived.doc_count != store.doc_count:
            derived = None  # not this reader's segments (the directory was rebuilt meanwhile): never mix them
        mapped, gen = derived is not None, path.name
        if derived is None:
            # built before the derived files existed: compute them here, as every open used to
            log.warning("%s has no derived files of this version: computing them ('search-cli index' writes them)", gen)
            from indexer.derive import derive  # the build's modules: only an older index's open needs them

            derived = derive(store, postings=False)
        stats = LiveStats(derived.live_count, derived.field_lengths, derived)
        scoring = ScoringData(store, derived.doc_count, derived.live, derived.lengths, stats, policy, derived.postings)
        # the tie-break factor is far below any real score difference but orders exact ties by URL
        prior = policy.quality_prior(derived.quality) * (1.0 + 1e-9 * derived.tiebreak / 2**31)
        return cls(
            name=path.name,
            path=path,
            store=store,
            doc_count=derived.doc_count,
            facets={f: FacetTable.of(f, derived.facets[f]) for f in FACET_FIELDS},
            prior=prior,
            tiebreak=derived.tiebreak,
            published=derived.published,
            quality=derived.quality,
            live=derived.live,
            story=derived.story,
            calendar=timeline.Calendar.of(derived.published, (derived.days, derived.months)),
            stats=stats,
            scoring=scoring,
            policy=policy,
            answers=AnswerCache(cache_entries),
            derived=derived,
            vectors=_vectors_of(path, derived.doc_count),
            mapped=mapped,
        )

    @property
    def manifest(self) -> dict:
        """The generation's build facts (read on first use; not the per-file table, which only updates read)."""
        if self._manifest is None:
            self._manifest = generations.read_manifest(self.path, files=False)
        return self._manifest

    def resolve(self, field: str, value: str) -> str | None:
        """Canonical spelling of a facet value, or None when no document has it."""
        table = self.facets.get(field)
        return table.resolve(value) if table else value

    def vocabulary(self) -> Vocabulary:
        """The unstemmed words of the index with their live document frequencies."""
        if self._vocabulary is None:
            self._vocabulary = Vocabulary(self.derived.vocabulary, self.derived.vocabulary_df)
        return self._vocabulary

    def live_docs(self, url: str) -> np.ndarray:
        """The live document numbers of the item at ``url`` (any spelling of it); none for a non-URL.

        Read straight from the index, not the postings cache: URLs sent by clients must not evict it.
        """
        try:
            key = canonical_url(url)
        except ValueError:  # not a URL at all (a bad port, an unclosed IPv6 bracket)
            return np.zeros(0, dtype=np.int64)
        docs = self.store.postings("key", key)[0]
        return docs[self.live[docs]]

    def story_items(self, leader: int) -> np.ndarray:
        """The live items of the story named by its earliest item ``leader``, in document order.

        The live items are sorted by story once per generation; a story is then one slice of them,
        not a scan of every document for each card or story filter.
        """
        if self._story_order is None:
            docs = np.flatnonzero(self.live)
            docs = docs[np.argsort(self.story[docs], kind="stable")]
            self._story_order = (docs, np.asarray(self.story[docs]))
        docs, stories = self._story_order
        # the story number in the array's own type: a Python int would make numpy cast every element (50 us)
        leader = stories.dtype.type(leader)
        return docs[stories.searchsorted(leader, "left") : stories.searchsorted(leader, "right")]

    def joint_facets(self) -> JointCounts:
        """The single-valued facets' values as one code per document (made on first use: ~1 ms at 100k)."""
        if self._joint_facets is None:
            self._joint_facets = JointCounts.of(list(self.facets.values()))
        return self._joint_facets

    def compound_pairs(self) -> Pairs:
        """Pairs of words this generation has counted side by side (``search.compounds``)."""
        return self._compound_pairs

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
