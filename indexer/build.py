"""Full builds of a seed folder, and what updates (``indexer.incremental``) share with them.

Both paths produce the same documents (merge_records depends only on file paths and
contents), and scoring uses live collection statistics (search.livestats.LiveStats), so
scores, rankings and facet counts are identical whichever path built the index.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import analysis, generations, persisted, record_cache, storage, stories, vectors, writer_lock
from .derive import Followed, derive
from .documents import Document, MergedDocuments
from .events import key_hash
from .filetable import FileTable, file_time
from .record_cache import RecordCache
from .schema import TEXT_FIELDS, build_schema, document_fields, restored_fields, schema_version
from .seeds import (
    Known,
    SeedFile,
    SeedProblem,
    discover,
    iter_seed_files,
    read_or_report,
)
from .tables import Written

PARALLEL_WRITE_MIN_DOCS = 2_000  # smaller builds take longer to hand out than to write
SMALL_SEGMENT_DOCS = 100  # a segment of fewer stored documents is small: updates merge those (merge_small_tail)
MERGE_SMALL = 2  # an update takes the trailing small segments into its own once there are this many
Progress = Callable[[int, int], None]  # (files done, files total)


@dataclass
class BuildReport:
    """What one run of the indexer did."""

    mode: str  # "full", "incremental" or "unchanged"
    files_total: int = 0
    files_read: int = 0
    files_cached: int = 0  # of files_read: taken from the record cache, not parsed (full builds)
    files_added: int = 0
    files_changed: int = 0
    files_removed: int = 0
    docs_added: int = 0
    docs_updated: int = 0
    docs_removed: int = 0
    documents: int = 0
    seconds: float = 0.0
    generation: str = ""
    semantic_model: str | None = None  # the model that embedded the items (indexer.vectors), None: words only
    problems: list[SeedProblem] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        if self.mode == "unchanged":
            head = f"index up to date: {self.documents:,} documents from {self.files_total:,} files"
        else:
            cached = f", {self.files_cached:,} of them from the record cache" if self.files_cached else ""
            head = (
                f"{self.mode} build: {self.files_read:,} files read{cached}"
                f" (+{self.files_added} ~{self.files_changed} -{self.files_removed}),"
                f" {len(self.problems)} skipped; documents +{self.docs_added} ~{self.docs_updated}"
                f" -{self.docs_removed}, {self.documents:,} in index"
            )
            if self.semantic_model:
                head += f", embedded with {self.semantic_model}"
        return f"{head} in {self.seconds:.2f}s"


def _file_entry(seed: SeedFile, stat: os.stat_result) -> dict:
    return {
        "sha256": seed.sha256,
        "size": stat.st_size,
        "mtime_ns": file_time(stat),
        "keys": sorted({r.key for r in seed.records}),
    }


def build_procs() -> int:
    """Worker processes for a full build: env SEARCH_BUILD_PROCS, else the CPUs (at most 4).

    Workers are forked, so a process running other threads (a server, a watcher) builds in
    one process: a fork copies locks that another thread may hold. Forked workers die with
    the build and never keep the index's writer lock (writer_lock.workers_die_with_parent).
    """
    if threading.active_count() > 1:
        return 1
    configured = os.environ.get("SEARCH_BUILD_PROCS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(4, os.cpu_count() or 1))


def read_seed_files(
    root: Path, paths: list[str], report: BuildReport, progress: Progress | None, cache: RecordCache | None = None
) -> tuple[dict[str, SeedFile], dict[str, dict]]:
    """Each path's parsed file (or problem) and manifest entry; files whose bytes ``cache`` holds are not parsed."""
    seeds: dict[str, SeedFile] = {}
    entries: dict[str, dict] = {}
    known = cache.keys() if cache is not None else frozenset()
    with writer_lock.workers_die_with_parent():  # the parsing pool, when there is one
        for done, found in enumerate(iter_seed_files(root, paths, build_procs(), known), start=1):
            item = found
            if isinstance(found, Known):
                item = cache.get(found.path, found.sha256) if cache is not None else None
                if item is None:  # a damaged entry: parse the file after all
                    item = read_or_report(root, found.path)
                else:
                    report.files_cached += 1
            if isinstance(item, SeedProblem):
                report.problems.append(item)
            else:
                if cache is None:
                    item.pickled = None  # no cache will store the bytes a worker sent it as: keep one copy
                seeds[item.path] = item
                entries[item.path] = _file_entry(item, (root / item.path).stat())
                report.warnings.extend((item.path, w) for w in item.warnings)
            report.files_read += 1
            if progress:
                progress(done, len(paths))
    return seeds, entries


def manifest_of(files: Mapping[str, dict] | FileTable, problems: list[SeedProblem], documents: int, mode: str) -> dict:
    """A generation's manifest; ``files`` (entries or a table) goes to files.bin, which keeps only size, time, hash."""
    return {
        "version": schema_version(),  # a hash of the field table: a change rebuilds by itself
        "files": files,
        "problems": [{"path": p.path, "reason": p.reason} for p in problems],
        "documents": documents,
        "built_at": time.time(),
        "mode": mode,
    }


def write_documents(
    gen: Path,
    docs: Iterable[Document],
    *,
    create: bool,
    delete_keys: Iterable[str] = (),
    delete_docs: Iterable[int] | None = None,
) -> Written | None:
    """Write ``docs`` into the generation at ``gen`` (a new index with ``create``), deleting ``delete_keys`` first.

    ``delete_docs``, when known, are the document numbers of those keys' live versions (Whoosh finds
    them by a query per key otherwise). The bulk writer returns the text posting tables it wrote
    (``write_derived`` takes them), Whoosh's writer None.
    """
    docs, delete_keys = (docs if isinstance(docs, Sequence) else list(docs)), list(delete_keys)
    if create:
        from . import bulk_build  # full builds only: an update's start-up does without its imports

        if bulk_build.bulk_writer_chosen():
            return bulk_build.write_index(gen, docs, build_procs() if len(docs) >= PARALLEL_WRITE_MIN_DOCS else 1)
    if not create and not docs and not delete_keys:
        return None  # only the manifest changes (e.g. a broken file appeared or vanished)
    fields = None if create else [document_fields(doc) for doc in docs]  # an update's, for either writer
    if not create and docs and delete_docs is not None:
        # an update's segment written from arrays (up to ~35% less CPU than Whoosh's writer), a merged
        # tail's documents anew from their stored fields (35-50% less than Whoosh's add_reader re-pooling
        # every posting in Python); its posting tables go to write_derived, not read back
        from . import bulk_segment

        written = bulk_segment.append_segment(
            gen,
            fields,
            delete_docs,
            TEXT_FIELDS,
            merged=lambda segments: MERGE_SMALL if merge_due(segments) else 0,
            restore=restored_fields,
        )
        if written is not None:
            return written
    ix = storage.open_for_writing(gen, build_schema() if create else None)
    procs = build_procs() if create and len(docs) >= PARALLEL_WRITE_MIN_DOCS else 1
    # several processes each write a segment; scores do not depend on segments (LiveStats)
    try:
        with writer_lock.workers_die_with_parent():  # Whoosh forks its writer processes lazily
            writer = ix.writer(limitmb=256, procs=procs, multisegment=True) if procs > 1 else ix.writer(limitmb=256)
            try:
                if delete_docs is not None:
                    for docnum in delete_docs:
                        writer.delete_document(docnum)
                elif delete_keys:
                    with writer.searcher() as searcher:  # one for every key: Whoosh opens one per call otherwise
                        for key in delete_keys:
                            writer.delete_by_term("key", key, searcher=searcher)
                for doc_fields in fields if fields is not None else map(document_fields, docs):
                    writer.add_document(**doc_fields)
                # Scores do not depend on segments (search.livestats.LiveStats), so an update only adds a
                # small segment, with the few small ones before it (merge_small_tail); incremental.update
                # rebuilds instead of ever merging the whole index (deleted_share)
                writer.commit(optimize=True) if create else writer.commit(mergetype=merge_small_tail)
            except BaseException:
                writer.cancel()
                raise
    finally:
        ix.close()
    return None


def merge_small_tail(writer, segments: list) -> list:
    """Whoosh merge policy for updates: the last MERGE_SMALL small segments join the one being written.

    An update merges so without Whoosh's writer (``write_documents``: the merged documents written
    anew from their stored fields); this policy serves the updates that fall back to it.

    A merge's cost is bounded: Whoosh's ``add_reader`` re-pools every posting in Python (~3 ms a
    document), and the tier policy this replaces merged ten ~60-document segments every tenth
    update (2.2 s of CPU at 100k, the slowest update by far). Here an update rewrites at most
    MERGE_SMALL segments of fewer than SMALL_SEGMENT_DOCS documents each, every MERGE_SMALL + 1
    updates of typical size: one segment of ~180 documents per three 60-document updates, never
    merged again until ``index --full`` (which the report suggests from 5% replaced versions, at
    ~90 such updates at 100k) or the rebuild an update does by itself at 25%. Only trailing
    segments merge, so every other document keeps its number and the derived arrays are carried
    over cheaply (``indexer.carry``). Never a whole-index merge in an update: Whoosh's optimize
    took 300 s at 100k documents.
    """
    if not merge_due(segments):
        return segments
    chosen = segments[len(segments) - MERGE_SMALL :]
    storage.merge_into(writer, chosen)
    return segments[: len(segments) - MERGE_SMALL]


def merge_due(segments: list) -> bool:
    """Whether the last MERGE_SMALL of ``segments`` are all small: an update then merges them (merge_small_tail)."""
    tail = 0
    while tail < len(segments) and segments[-1 - tail].doc_count_all() < SMALL_SEGMENT_DOCS:
        tail += 1
    return tail >= MERGE_SMALL


def write_derived(
    gen: Path,
    follows: Path | None = None,
    changed_keys: Iterable[str] = (),
    *,
    opened: tuple[storage.Store, persisted.Derived | None] | None = None,
    written: Written | None = None,
) -> None:
    """Write beside the index what searchers read besides Whoosh's files.

    Every indexed word's stem (a query with known words needs no stemmer), and the arrays every
    searcher would otherwise derive when it opens the generation (``indexer.derive``). An update
    names the generation it ``follows`` and the keys it added, changed or removed: the event
    stories of the other items are carried over (``indexer.stories``); ``opened`` is that
    generation's store and derived data when the caller has them open already; ``written``, the
    posting tables the bulk writer held (``write_documents``), saves reading them back.

    Written anew (not in place: an update's directory shares files with the live one by hard links).
    """
    store = storage.Store(gen)
    if opened is None and follows is not None:
        opened = (storage.Store(follows), persisted.load(follows))
    before = opened[1] if opened is not None else None
    previous = None
    if before is not None:
        previous = stories.Previous(
            before.live, before.key_hash, before.story, before.group, before.stories_mode, opened[0]
        )
    changed = np.asarray([key_hash(k) for k in sorted(set(changed_keys))], dtype=np.int64)
    followed = Followed.of(opened[0], before) if opened is not None and before is not None else None
    derived = derive(store, previous=previous, changed=changed, followed=followed, written=written)
    # the words of live documents, as a full build of them would list (an update's vocabulary also
    # holds words only replaced versions had, at frequency 0), decoded at once rather than one by one
    held = np.asarray(derived.vocabulary_df) > 0
    words = {word for word, there in zip(derived.vocabulary.to_list(), held.tolist(), strict=True) if there}
    # provider names are stemmed too (provider_text) but are not in the vocabulary: the live ones' words
    # (the facet's values, not every segment's terms: ~0.02 s at 100k, and replaced versions' names too)
    split = analysis.vocabulary_analyzer()
    words.update(token.text for name in derived.facets["provider"].values for token in split(name))
    tmp = gen / (generations.STEMS + ".tmp")
    tmp.write_text(
        json.dumps(analysis.stems_of(sorted(words)), ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    os.replace(tmp, gen / generations.STEMS)
    persisted.save(gen, derived)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the span of a build or an update.

    Both make few reference cycles but many objects (an update: the manifest's 20k entries, 160k
    keys; a full build: every record, document and posting list), and the collector traversed
    them again and again: ~5% of an update, ~10% of a bulk writer's CPU and ~30% of merging
    records at 100k documents. Forked workers (parsing, bulk writers) inherit the pause.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def full_build(
    seeds_dir: Path, index_dir: Path, progress: Progress | None = None, *, semantic_model: str | None = None
) -> BuildReport:
    """Read every seed file and build a fresh generation; the old one stays live until the switch.

    ``semantic_model``: embed the items with this model (``indexer.vectors``), 'none' not to, None
    to do as the live generation did.
    """
    with collector_paused():
        return _full_build(seeds_dir, index_dir, progress, semantic_model)


def _live_or_none(index_dir: Path) -> Path | None:
    try:
        return generations.current_generation(index_dir)
    except (generations.IndexMissing, ValueError, OSError):
        return None


def _full_build(seeds_dir: Path, index_dir: Path, progress: Progress | None, semantic_model: str | None) -> BuildReport:
    analysis.use_nltk()
    start = time.perf_counter()
    report = BuildReport(mode="full")
    paths, problems = discover(seeds_dir)
    report.problems.extend(problems)
    report.files_total = len(paths)
    cache = RecordCache.load(index_dir)
    seeds, entries = read_seed_files(seeds_dir, paths, report, progress, cache)
    cache.save(index_dir, seeds)
    del cache  # its pickled records: the documents below hold what the build needs
    record_cache.drop_pickles(seeds.values())  # stored in the cache now
    report.files_added = len(seeds)
    docs = MergedDocuments(r for s in seeds.values() for r in s.records)  # merged by the writers, in parallel
    gen = generations.new_generation(index_dir)
    write_derived(gen, written=write_documents(gen, docs, create=True))
    report.semantic_model = vectors.write(gen, semantic_model, _live_or_none(index_dir))
    report.docs_added = report.documents = len(docs)
    keys = {rel: entry["keys"] for rel, entry in entries.items()}
    generations.publish(index_dir, gen, manifest_of(entries, report.problems, len(docs), "full"), keys)
    report.generation = gen.name
    report.seconds = time.perf_counter() - start
    return report
