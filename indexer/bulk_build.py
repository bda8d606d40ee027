"""Full builds in bulk: the documents split between forked worker processes, each writing one whole segment.

``indexer.bulk_segment`` writes a segment from arrays; this module hands each worker its share
and lists the segments in the new index. Scores do not depend on segments (live statistics),
so the split only decides who writes what. ``SEARCH_BUILD_WRITER=document`` selects Whoosh's
per-document writer instead (``indexer.build``), for comparison.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import bulk_segment, storage, writer_lock
from .documents import Document
from .schema import TEXT_FIELDS, build_schema, document_fields
from .tables import Written

# "bulk" (default): full builds write whole segments from arrays; "document": Whoosh's
# per-document writer (kept for comparison and as a fallback; updates write in bulk either way)
WRITER_ENV = "SEARCH_BUILD_WRITER"

_DOCS: Sequence[Document] = []  # the documents the forked workers read (inherited, never pickled; merged there)


def bulk_writer_chosen() -> bool:
    """Whether full builds use the bulk writer (env SEARCH_BUILD_WRITER: "bulk", the default, or "document")."""
    chosen = os.environ.get(WRITER_ENV, "bulk").strip().lower() or "bulk"
    if chosen not in ("bulk", "document"):
        raise ValueError(f"{WRITER_ENV} must be 'bulk' or 'document', not {chosen!r}")
    return chosen == "bulk"


def _part(gen: str, start: int, end: int, segment_id: str):
    fields = [document_fields(doc) for doc in _DOCS[start:end]]
    return bulk_segment.write_segment(Path(gen), build_schema(), fields, segment_id, TEXT_FIELDS)


def write_index(gen: Path, docs: Sequence[Document], procs: int) -> Written:
    """A new index of ``docs`` at ``gen``: ``procs`` segments, written in as many forked processes.

    Returns each segment's text posting tables as its writer held them (``indexer.derive`` takes
    them instead of reading every posting back through Whoosh).
    """
    global _DOCS
    schema = build_schema()
    storage.open_for_writing(gen, schema).close()
    parts = max(1, procs) if docs else 0
    bounds = [len(docs) * i // parts for i in range(parts + 1)] if parts else []
    ids = [bulk_segment.new_segment_id() for _ in range(parts)]  # in the parent: workers never share one
    jobs = [(str(gen), bounds[i], bounds[i + 1], ids[i]) for i in range(parts)]
    _DOCS = docs
    try:
        if parts <= 1:
            written = [_part(*job) for job in jobs]
        else:
            with (
                writer_lock.workers_die_with_parent(),  # the workers die with the build
                ProcessPoolExecutor(parts, mp_context=multiprocessing.get_context("fork")) as pool,
            ):
                written = list(pool.map(_part, *zip(*jobs, strict=True)))
    finally:
        _DOCS = []
    bulk_segment.publish(gen, schema, [segment for segment, _ in written])
    return {segment.segment_id(): tables for segment, tables in written}
