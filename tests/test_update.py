"""Incremental updates: exactly the affected documents change, and the result equals a full build."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from indexer import build, bulk_build, bulk_segment, generations, incremental, persisted, stories
from indexer.derive import event_stories
from indexer.filetable import file_time
from indexer.storage import Store
from search.engine import SearchEngine
from search.request import build_request
from tests.conftest import POWER_APPS
from tests.test_documents import seed
from tests.test_persisted import assert_persisted_equal

QUERIES = [
    "",
    "power apps",
    "power automate",
    "microsoft",
    "dataverse",
    "low code",
    "portal",
    "teams",
    "ai builder",
    '"power platform"',
    "canvas app -model",
    "azure",
    "citizen developers",
    "Power Fx",
    "licensing",
]
VARIANTS = [
    {},
    {"sort": "newest"},
    {"sort": "quality"},
    {"filters": ["kind=article"]},
    {"filters": ["kind=related", "year=2021"]},
    {"page": "2"},
]


def snapshot(index: Path) -> dict:
    """Everything a user can observe: every stored document and many query answers."""
    engine = SearchEngine(index)
    everything = engine.search(build_request("", limit=100, page=1, group=False))
    docs = []
    for page in range(1, everything["pages"] + 1):
        docs += engine.search(build_request("", limit=100, page=page, group=False))["hits"]
    answers = {}
    for q in QUERIES:
        for variant in VARIANTS:
            result = engine.search(build_request(q, **variant))
            for volatile in ("took_ms", "generation"):
                result.pop(volatile)
            answers[(q, repr(variant))] = result
    stats = engine.stats()
    return {
        "documents": sorted((d for d in docs), key=lambda d: d["key"]),
        "answers": answers,
        "count": stats["documents"],
        "facet_sizes": stats["facets"],
    }


def assert_same_as_full_build(seeds: Path, index: Path, tmp_path: Path, writer: str = "bulk") -> None:
    full = tmp_path / f"full-{len(list(tmp_path.iterdir()))}"
    with pytest.MonkeyPatch.context() as patch:  # full builds write with the bulk writer unless told otherwise
        patch.setenv(bulk_build.WRITER_ENV, writer)
        build.full_build(seeds, full)
    incremental, rebuilt = snapshot(index), snapshot(full)
    assert incremental["count"] == rebuilt["count"]
    assert [d["key"] for d in incremental["documents"]] == [d["key"] for d in rebuilt["documents"]]
    assert incremental["documents"] == rebuilt["documents"]
    for key, answer in rebuilt["answers"].items():
        assert incremental["answers"][key] == answer, key
    assert incremental == rebuilt
    assert_persisted_equal(index, full)  # the mapped arrays too, not only what they answer
    assert stems_of(index) == stems_of(full)  # and the stems queries read
    # and what the next update reads: each file's size, time and hash (files.bin) and its URL keys
    ours, theirs = generations.current_generation(index), generations.current_generation(full)
    assert dict(generations.read_manifest(ours)["files"]) == dict(generations.read_manifest(theirs)["files"])
    assert dict(generations.read_keys(ours)) == dict(generations.read_keys(theirs))


def stems_of(index: Path) -> dict[str, str]:
    return json.loads((generations.current_generation(index) / generations.STEMS).read_text(encoding="utf-8"))


def apply_update(folder: Path, update: Path) -> None:
    for line in (update / "CHANGES").read_text().splitlines():
        status, path = line.split(maxsplit=1)
        target = folder / path
        if status == "D":
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(update / path, target)


def assert_stories_as_a_full_build(index: Path) -> None:
    """The live generation's persisted stories equal clustering all its items anew (same numbering)."""
    gen = generations.current_generation(index)
    data = persisted.load(gen)
    assert data is not None
    live, published = np.asarray(data.live), np.asarray(data.published)
    _, full = event_stories(Store(gen), live, published, data.postings, None, None)
    assert np.array_equal(np.asarray(data.story), full.story)
    assert np.array_equal(np.asarray(data.group), full.group)
    assert data.stories_mode == full.mode


def test_replaying_the_40_real_updates_matches_a_full_build(tmp_path, monkeypatch):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(POWER_APPS / "base", seeds)
    build.full_build(seeds, index)  # the bulk writer; updates then add per-document segments to it
    updated = []  # each update clusters only its neighbourhood: the full path never runs in one
    monkeypatch.setattr(stories, "update", lambda *a, _real=stories.update: updated.append(1) or _real(*a))
    updates = sorted((POWER_APPS / "updates").iterdir())
    assert len(updates) == 40
    compared = tmp_path / "compared"
    compared.mkdir()
    for number, update in enumerate(updates, start=1):
        changes = (update / "CHANGES").read_text().splitlines()
        apply_update(seeds, update)
        report = incremental.update(seeds, index)
        assert report.mode == "incremental"
        assert report.files_added + report.files_changed == len(changes)
        assert report.files_read == len(changes)  # only the changed files were parsed
        assert len(updated) == number
        assert_stories_as_a_full_build(index)  # after every update: the persisted stories, array for array
        if number % 10 == 0:  # against both writers' full builds
            assert_same_as_full_build(seeds, index, compared, "bulk" if number % 20 else "document")
    assert incremental.update(seeds, index).mode == "unchanged"


@pytest.fixture()
def folder(tmp_path) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "2021-01-01-a.md").write_text(
        seed("Alpha article", "https://a.org/1", topics=("Cloud",), related=[("Shared story", "https://r.org/shared")])
    )
    (seeds / "2021-01-02-b.md").write_text(
        seed(
            "Beta article",
            "https://b.org/1",
            topics=("AI",),
            related=[("Shared story", "https://r.org/shared"), ("Exclusive scoop", "https://r.org/beta-only")],
        )
    )
    (seeds / "2021-01-03-c.md").write_text(seed("Gamma article", "https://c.org/1", topics=("Data",)))
    return seeds


def docs_by_key(index: Path) -> dict[str, dict]:
    result = SearchEngine(index).search(build_request("", limit=100, group=False))
    return {h["key"]: h for h in result["hits"]}


def build_index(folder: Path, tmp_path: Path, fillers: int = 0) -> Path:
    """Build the folder's index fully (after adding ``fillers`` one-item seed files); return it."""
    for i in range(fillers):
        (folder / f"filler-{i:04d}.md").write_text(seed(f"Filler {i}", f"https://f.org/{i}"))
    index = tmp_path / "index"
    build.full_build(folder, index)
    return index


def test_the_live_versions_an_update_replaces_are_found_in_the_derived_arrays_as_whoosh_finds_them(folder, tmp_path):
    """Whoosh's delete by key gives the same index, so nothing else would notice this path falling back."""
    index = build_index(folder, tmp_path)
    live = generations.current_generation(index)
    store, derived = Store(live), persisted.load(live)
    keys = sorted(docs_by_key(index))
    assert len(keys) >= 5
    whoosh = sorted(int(d) for key in keys for d in store.postings("key", key)[0] if derived.live[d])
    assert sorted(incremental._live_versions(store, derived, keys)) == whoosh
    assert incremental._live_versions(store, derived, [*keys, "nowhere.org/none"]) is None  # Whoosh looks then
    assert incremental._live_versions(store, None, keys) is None


def test_deleting_an_item_without_excerpt_keeps_the_index_usable(folder, tmp_path):
    """Whoosh reports no length (None) for a field a deleted document never had; this once broke every open."""
    (folder / "2021-01-04-bare.md").write_text('---\ntitle: "Bare item"\nwebUrl: "https://d.org/bare"\n---\n')
    index = build_index(folder, tmp_path, 40)  # the deletion is not compacted away by a rebuild
    (folder / "2021-01-04-bare.md").unlink()
    assert incremental.update(folder, index).docs_removed == 1
    assert "d.org/bare" not in docs_by_key(index)
    assert_same_as_full_build(folder, index, tmp_path)


@pytest.mark.parametrize("writer", ["bulk", "whoosh"])
def test_updates_merge_only_their_last_small_segments_and_answers_stay_identical(folder, tmp_path, monkeypatch, writer):
    """An update merges at most MERGE_SMALL trailing small segments: its cost stays bounded, a large segment stays.

    Both ways: documents of the merged segments written anew from their stored fields with the update's
    (``bulk_segment.append_segment``), and Whoosh's writer, which an update falls back to.
    """
    from whoosh.writing import SegmentWriter

    index = build_index(folder, tmp_path, 700)  # replaced versions stay far below the rebuild threshold
    monkeypatch.setattr(build, "SMALL_SEGMENT_DOCS", 3)  # an update writing 3 documents or more leaves a large one
    if writer == "whoosh":
        monkeypatch.setattr(bulk_segment, "append_segment", lambda *a, **k: None)
    pooled = []  # the segments Whoosh's writer re-pooled
    monkeypatch.setattr(
        SegmentWriter,
        "add_reader",
        lambda self, reader, _real=SegmentWriter.add_reader: pooled.append(1) or _real(self, reader),
    )
    merges: list[tuple[list[int], bool]] = []

    def sized(segments: list[tuple[str, int]], total: int) -> list[tuple[str, int]]:
        ends = [offset for _, offset in segments[1:]] + [total]
        return [(segment_id, end - offset) for (segment_id, offset), end in zip(segments, ends, strict=True)]

    counts, large = [], []
    for round_no in range(16):
        changed = 4 if round_no % 5 == 4 else 1
        for i in range(changed):
            number = round_no * 4 + i
            path = folder / f"filler-{number:04d}.md"
            path.write_text(seed(f"Filler {number} revised", f"https://f.org/{number}"))
        before_store = Store(generations.current_generation(index))
        before = sized(before_store.segments(), before_store.doc_count)
        incremental.update(folder, index)
        segments = Store(generations.current_generation(index)).segments()
        now = {segment_id for segment_id, _ in segments}
        gone = [(segment_id, size) for segment_id, size in before if segment_id not in now]
        if gone:  # merged into the update's segment
            merges.append(([size for _, size in gone], gone == before[len(before) - len(gone) :]))
        counts.append(len(segments))
        if changed >= build.SMALL_SEGMENT_DOCS:
            large.append(segments[-1][0])
    assert merges and all(len(sizes) == build.MERGE_SMALL and trailing for sizes, trailing in merges), merges
    assert len(pooled) == (len(merges) * build.MERGE_SMALL if writer == "whoosh" else 0)
    assert all(max(sizes) < build.SMALL_SEGMENT_DOCS for sizes, _ in merges), merges
    final = [segment_id for segment_id, _ in Store(generations.current_generation(index)).segments()]
    assert set(large) <= set(final)  # never merged again by an update
    # the build's, one per merge and per large update, and the small ones: fewer than MERGE_SMALL before each large
    # segment (left behind by it) and at the end
    assert max(counts) <= 1 + len(merges) + len(large) + (len(large) + 1) * (build.MERGE_SMALL - 1) + 1, counts
    assert counts[-1] < 1 + 16  # merges happened: fewer segments than updates
    assert_same_as_full_build(folder, index, tmp_path)


def test_a_small_index_is_not_advised_to_compact(folder, tmp_path):
    # "14% of the index are replaced versions ... run index --full in a quiet hour" on a 6-document index
    index = build_index(folder, tmp_path)
    (folder / "2021-01-02-b.md").write_text(seed("Beta article, revised", "https://b.org/1", topics=("AI",)))
    report = incremental.update(folder, index)
    assert incremental.deleted_share(generations.current_generation(index)) > incremental.ADVISE_COMPACT_SHARE
    assert report.mode == "incremental" and not report.warnings


def test_piled_up_replaced_versions_are_reported_then_compacted_by_a_rebuild(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(incremental, "ADVISE_COMPACT_DOCS", 0)  # as if the index were large
    index = build_index(folder, tmp_path)
    (folder / "2021-01-02-b.md").write_text(seed("Beta article, revised", "https://b.org/1", topics=("AI",)))
    first = incremental.update(folder, index)
    assert first.mode == "incremental" and incremental.deleted_share(generations.current_generation(index)) > 0.25
    assert any("index --full" in warning for _, warning in first.warnings)
    (folder / "2021-01-03-c.md").write_text(seed("Gamma article, revised", "https://c.org/1", topics=("Data",)))
    second = incremental.update(folder, index)
    assert second.mode == "full" and any("rebuilt it to compact" in warning for _, warning in second.warnings)
    assert incremental.deleted_share(generations.current_generation(index)) == 0.0
    assert_same_as_full_build(folder, index, tmp_path)


def test_deleting_a_file_removes_what_only_it_mentioned(folder, tmp_path):
    index = build_index(folder, tmp_path)
    assert set(docs_by_key(index)) == {"a.org/1", "b.org/1", "c.org/1", "r.org/shared", "r.org/beta-only"}
    (folder / "2021-01-02-b.md").unlink()
    report = incremental.update(folder, index)
    assert (report.files_removed, report.docs_removed, report.docs_updated) == (1, 2, 1)
    docs = docs_by_key(index)
    assert set(docs) == {"a.org/1", "c.org/1", "r.org/shared"}
    assert docs["r.org/shared"]["topics"] == ["Cloud"]  # no longer inherits beta's topics
    assert docs["r.org/shared"]["sources"] == ["2021-01-01-a.md"]
    assert_same_as_full_build(folder, index, tmp_path)


def test_renaming_a_file_keeps_documents_and_updates_sources(folder, tmp_path):
    index = build_index(folder, tmp_path)
    os.rename(folder / "2021-01-03-c.md", folder / "2021-01-09-c.md")
    report = incremental.update(folder, index)
    assert (report.files_added, report.files_removed, report.docs_added, report.docs_removed) == (1, 1, 0, 0)
    assert docs_by_key(index)["c.org/1"]["sources"] == ["2021-01-09-c.md"]
    assert_same_as_full_build(folder, index, tmp_path)


def test_a_url_moving_to_another_file(folder, tmp_path):
    index = build_index(folder, tmp_path)
    (folder / "2021-01-03-c.md").write_text(seed("Gamma moved on", "https://c.org/2", topics=("Data",)))
    (folder / "2021-01-04-d.md").write_text(seed("Gamma, now here", "https://c.org/1", topics=("Web",)))
    incremental.update(folder, index)
    docs = docs_by_key(index)
    assert docs["c.org/1"]["title"] == "Gamma, now here" and docs["c.org/1"]["topics"] == ["Web"]
    assert docs["c.org/2"]["title"] == "Gamma moved on"
    assert_same_as_full_build(folder, index, tmp_path)


def test_related_item_that_stops_being_mentioned_disappears(folder, tmp_path):
    index = build_index(folder, tmp_path)
    (folder / "2021-01-02-b.md").write_text(seed("Beta article", "https://b.org/1", topics=("AI",)))
    report = incremental.update(folder, index)
    assert report.docs_removed == 1
    assert "r.org/beta-only" not in docs_by_key(index)
    assert SearchEngine(index).search(build_request("exclusive scoop"))["total"] == 0
    assert_same_as_full_build(folder, index, tmp_path)


def test_related_item_becoming_an_article_takes_the_article_record(folder, tmp_path):
    index = build_index(folder, tmp_path)
    assert docs_by_key(index)["r.org/shared"]["kind"] == "related"
    (folder / "2020-12-31-shared.md").write_text(seed("Shared story, full article", "https://www.r.org/shared/"))
    incremental.update(folder, index)
    shared = docs_by_key(index)["r.org/shared"]
    assert (shared["kind"], shared["title"], shared["quality"]) == ("article", "Shared story, full article", 50)
    assert shared["parents"] == ["a.org/1", "b.org/1"]
    assert_same_as_full_build(folder, index, tmp_path)


def test_a_file_that_breaks_and_is_fixed(folder, tmp_path):
    index = build_index(folder, tmp_path)
    good = (folder / "2021-01-03-c.md").read_text()
    (folder / "2021-01-03-c.md").write_text(good.replace("title:", "title: [broken"))
    report = incremental.update(folder, index)
    assert [p.path for p in report.problems] == ["2021-01-03-c.md"]
    assert "c.org/1" not in docs_by_key(index)  # the file as it is now says nothing usable
    (folder / "2021-01-03-c.md").write_text(good)
    report = incremental.update(folder, index)
    assert report.problems == [] and "c.org/1" in docs_by_key(index)
    assert_same_as_full_build(folder, index, tmp_path)


def test_touching_files_without_changing_them_writes_nothing(folder, tmp_path):
    index = build_index(folder, tmp_path)
    live = (index / "CURRENT").read_text()
    for path in folder.iterdir():
        os.utime(path)
    report = incremental.update(folder, index)
    assert report.mode == "unchanged" and (index / "CURRENT").read_text() == live
    # the new modification times are remembered (the next update trusts the stat), in the live generation
    table = generations.read_manifest(generations.current_generation(index))["files"]
    assert {rel: table[rel]["mtime_ns"] for rel in table} == {p.name: file_time(p.stat()) for p in folder.iterdir()}
    assert incremental.update(folder, index).mode == "unchanged"


def refuse_listing(monkeypatch, folder: Path) -> None:
    """As a user without permission on ``folder`` finds it: it cannot be listed, nor its files stat'ed or opened.

    Root reads anything, so a suite run as root (CI) gets the refusal by hand; any other user from chmod 0.
    """
    if os.geteuid() != 0:
        folder.chmod(0)
        return
    inside = str(folder) + os.sep

    def refusing(call):
        def refused(path, *args, **kwargs):
            if str(path) == str(folder) or str(path).startswith(inside):
                raise PermissionError(13, "Permission denied", str(path))
            return call(path, *args, **kwargs)

        return refused

    for name in ("scandir", "stat", "open"):
        monkeypatch.setattr(os, name, refusing(getattr(os, name)))


def allow_listing(monkeypatch, folder: Path) -> None:
    monkeypatch.undo()
    folder.chmod(0o755)


def test_a_folder_that_cannot_be_listed_is_named_and_its_files_keep_their_documents(folder, tmp_path, monkeypatch):
    """It was passed over in silence ("like os.walk"), so an update deleted every document of its files."""
    from indexer import textfiles

    (folder / "sub").mkdir()
    (folder / "sub" / "2021-01-05-e.md").write_text(seed("Epsilon article", "https://e.org/1"))
    index = build_index(folder, tmp_path)
    assert "e.org/1" in docs_by_key(index)
    refuse_listing(monkeypatch, folder / "sub")
    (folder / "2021-01-03-c.md").write_text(seed("Gamma article, revised", "https://c.org/1"))  # a change elsewhere
    try:
        report = incremental.update(folder, index)
    finally:
        allow_listing(monkeypatch, folder / "sub")
    assert [(p.path, p.reason.split(":")[0]) for p in report.problems] == [("sub/", textfiles.UNLISTED)]
    assert "Permission denied" in report.problems[0].reason
    assert (report.files_removed, report.docs_removed) == (0, 0)
    docs = docs_by_key(index)
    assert "e.org/1" in docs and docs["c.org/1"]["title"] == "Gamma article, revised"
    report = incremental.update(folder, index)  # listed again: nothing of it changed, nothing to say
    assert report.problems == [] and "e.org/1" in docs_by_key(index)


def test_a_document_a_file_of_an_unlisted_folder_helps_make_is_kept_and_remade_once_listed(
    folder, tmp_path, monkeypatch
):
    """Both a.md and sub/b.md list r.org/1: a.md dropping it while sub/ cannot be listed deleted it for good
    (sub/b.md could not be read to remake it, and once listed again its unchanged stat kept it unread)."""

    (folder / "2021-01-04-a.md").write_text(
        seed("Alpha list", "https://a4.org/1", related=[("Shared", "https://r.org/1")])
    )
    (folder / "sub").mkdir()
    (folder / "sub" / "2021-01-05-b.md").write_text(
        seed("Beta list", "https://b5.org/1", related=[("Shared", "https://r.org/1")])
    )
    index = build_index(folder, tmp_path, fillers=40)
    refuse_listing(monkeypatch, folder / "sub")
    (folder / "2021-01-04-a.md").write_text(seed("Alpha list, shorter", "https://a4.org/1"))
    report = incremental.update(folder, index)
    assert [p.path for p in report.problems] == ["sub/"] and "r.org/1" in docs_by_key(index)
    allow_listing(monkeypatch, folder / "sub")
    report = incremental.update(folder, index)  # listed again: its files are read again
    assert report.problems == [] and "r.org/1" in docs_by_key(index)
    assert_same_as_full_build(folder, index, tmp_path)


def test_a_seed_folder_that_cannot_be_listed_is_an_error_not_an_empty_folder(folder, tmp_path, monkeypatch):
    # it read as a folder with no seed files: "holds no seed files", and 'index --full' emptied the index
    index = build_index(folder, tmp_path)
    before = len(docs_by_key(index))
    refuse_listing(monkeypatch, folder)
    try:
        for run in (lambda: incremental.update(folder, index), lambda: build.full_build(folder, index)):
            with pytest.raises(PermissionError):
                run()
    finally:
        allow_listing(monkeypatch, folder)
    assert len(docs_by_key(index)) == before


def test_a_rebuild_never_runs_from_a_folder_that_is_empty_or_cannot_all_be_listed(folder, tmp_path, monkeypatch):
    # the guards held on the incremental path only: a rebuild an update chose (a schema change, piled-up
    # versions) emptied the index from an unmounted folder, or left an unlisted folder's files out
    from indexer import textfiles

    (folder / "sub").mkdir()
    (folder / "sub" / "2021-01-05-e.md").write_text(seed("Epsilon article", "https://e.org/1"))
    (folder / "lost+found").mkdir()  # as at a mount's root: it never held a seed file
    index = build_index(folder, tmp_path)
    before = len(docs_by_key(index))
    monkeypatch.setattr(incremental, "REBUILD_SHARE", -1.0)  # each update here must rebuild
    refuse_listing(monkeypatch, folder / "sub")
    refuse_listing(monkeypatch, folder / "lost+found")
    with pytest.raises(textfiles.SeedFolderEmpty, match="cannot list sub/ in") as refused:
        incremental.update(folder, index)
    assert "lost+found" not in str(refused.value)  # only a folder that held indexed files refuses
    assert len(docs_by_key(index)) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(textfiles.SeedFolderEmpty, match="holds no seed files"):
        incremental.update(empty, index)
    assert len(docs_by_key(index)) == before


def test_a_folder_that_never_held_a_seed_file_does_not_stop_a_rebuild(folder, tmp_path, monkeypatch):
    (folder / "lost+found").mkdir()  # root's, at a mount's root: listed by no one else
    index = build_index(folder, tmp_path)
    monkeypatch.setattr(incremental, "REBUILD_SHARE", -1.0)
    refuse_listing(monkeypatch, folder / "lost+found")
    report = incremental.update(folder, index)
    assert report.mode == "full" and [p.path for p in report.problems] == ["lost+found/"]


def test_an_edit_that_keeps_the_size_and_puts_the_old_modification_time_back_is_seen(folder, tmp_path):
    """As ``touch -r`` or ``rsync -t`` leave a file: same size, same mtime, other words; the change time moved."""
    index = build_index(folder, tmp_path)
    path = folder / "2021-01-03-c.md"
    before = path.stat()
    text = path.read_text()
    edited = text.replace("Gamma", "Gimme")
    assert edited != text and len(edited.encode()) == len(text.encode())
    time.sleep(0.01)  # the change time is the clock's at the write: let it differ from the build's
    path.write_text(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    report = incremental.update(folder, index)
    assert (report.mode, report.files_changed) == ("incremental", 1)
    titles = {d["title"] for d in docs_by_key(index).values()}
    assert any("Gimme" in t for t in titles) and not any("Gamma" in t for t in titles)
    assert_same_as_full_build(folder, index, tmp_path)


def test_the_manifests_file_table_is_columns_beside_it_and_updates_keep_it_as_a_full_build_lists_the_folder(
    folder, tmp_path
):
    """files.bin: every file's size, time and hash as columns; manifest.json keeps only the build's facts."""
    from indexer.filetable import FileTable

    index = build_index(folder, tmp_path)
    gen = generations.current_generation(index)
    assert "files" not in json.loads((gen / generations.MANIFEST).read_text(encoding="utf-8"))
    assert isinstance(generations.read_manifest(gen)["files"], FileTable)
    (folder / "2021-01-03-c.md").write_text(seed("Gamma article, revised", "https://c.org/1", topics=("Data",)))
    (folder / "2021-01-04-d.md").write_text(seed("Delta article", "https://d.org/1", topics=("Data",)))  # added
    (folder / "2021-01-01-a.md").unlink()  # removed
    os.utime(folder / "2021-01-02-b.md", ns=(1, 10**18))  # its time alone moves
    report = incremental.update(folder, index)
    assert (report.mode, report.files_added, report.files_changed, report.files_removed) == ("incremental", 1, 1, 1)
    table = generations.read_manifest(generations.current_generation(index))["files"]
    assert table.paths == ["2021-01-02-b.md", "2021-01-03-c.md", "2021-01-04-d.md"]
    assert table["2021-01-02-b.md"]["mtime_ns"] == file_time((folder / "2021-01-02-b.md").stat())
    assert_same_as_full_build(folder, index, tmp_path)


def test_the_file_table_round_trips_any_file_name_and_refuses_a_truncated_one():
    from indexer.filetable import FileTable

    names = ["a.md", "line\nbreak.md", "caf\u00e9.md", "bad\udcff.md", " .md"]
    files = {n: {"sha256": f"{i:064x}", "size": i, "mtime_ns": 10**18 + i} for i, n in enumerate(names)}
    table = FileTable.of(files)
    again = FileTable.from_bytes(table.to_bytes())
    assert again.paths == sorted(names) and dict(again) == files
    assert dict(FileTable.from_bytes(FileTable.of({}).to_bytes())) == {}
    for broken in (table.to_bytes()[:-1], b"{}\n", b"not json"):
        with pytest.raises(ValueError):
            FileTable.from_bytes(broken)


def test_an_update_imports_nltk_only_for_a_word_it_has_never_stemmed(folder, tmp_path):
    import subprocess
    import sys

    index = build_index(folder, tmp_path)
    code = (
        "import sys; from pathlib import Path; from indexer import incremental;"
        f"report = incremental.update(Path({str(folder)!r}), Path({str(index)!r}));"
        "from indexer import analysis; stemmer = analysis._snowball;"
        "print(report.mode, stemmer is not None and type(stemmer.__self__).__module__, 'nltk' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["unchanged", "False", "False"], out.stderr
    (folder / "new.md").write_text(seed("Gamma story", "https://n.org/1"))  # words the index holds
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["incremental", "False", "False"], out.stderr  # known words: stems from stems.json
    assert_same_as_full_build(folder, index, tmp_path)
    (folder / "newer.md").write_text(seed("Zyxqwving items", "https://n.org/2"))  # a word never stemmed
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    # the stemmer is NLTK's own module, loaded without the package's __init__ (half a second or more)
    assert out.stdout.split() == ["incremental", "nltk.stem.snowball", "False"], out.stderr
    assert_same_as_full_build(folder, index, tmp_path)


def test_an_update_does_not_import_the_process_pool_it_never_uses(folder, tmp_path):
    import subprocess
    import sys

    index = build_index(folder, tmp_path)
    (folder / "new.md").write_text(seed("Gamma story", "https://n.org/1"))
    code = (
        "import sys; from pathlib import Path; from indexer import incremental;"
        f"report = incremental.update(Path({str(folder)!r}), Path({str(index)!r}));"
        "print(report.mode, 'concurrent.futures.process' in sys.modules, 'multiprocessing' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    # its modules cost an update's start-up 0.05-0.2 s; a few changed files are read in the process
    assert out.stdout.split() == ["incremental", "False", "False"], out.stderr


def test_cached_answers_never_outlive_their_generation(folder, tmp_path):
    index = build_index(folder, tmp_path)
    engine = SearchEngine(index, refresh_seconds=0)
    request = build_request("gamma")
    first = engine.search(request)
    answers = engine.generation().answers
    hits_before = answers.hits
    assert engine.search(request)["hits"] == first["hits"]
    assert answers.hits == hits_before + 1  # served from the answer cache, not recomputed
    (folder / "2021-01-03-c.md").write_text(seed("Gamma rays explained", "https://c.org/1", topics=("Data",)))
    incremental.update(folder, index)
    deadline = time.monotonic() + 10
    while engine.generation().name == first["generation"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the new generation opens in the background
    second = engine.search(request)
    assert second["generation"] != first["generation"]
    assert engine.generation().answers.hits == 0  # the new generation computed it afresh
    assert second["hits"][0]["title"] == "Gamma rays explained"


def test_identical_concurrent_requests_are_computed_once(folder, tmp_path, monkeypatch):
    import threading

    index = build_index(folder, tmp_path)
    engine = SearchEngine(index)
    engine.generation()
    calls = []
    original = engine._search

    def slow_search(request, gen, started):
        calls.append(request)
        time.sleep(0.3)
        return original(request, gen, started)

    monkeypatch.setattr(engine, "_search", slow_search)
    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.search(build_request("gamma")))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 6 and all(r["hits"] == results[0]["hits"] for r in results)


def event_seed(title: str, url: str, day: int, provider: str, excerpt: str) -> str:
    return "\n".join(
        [
            "---",
            f'title: "{title}"',
            f'excerpt: "{excerpt}"',
            f'webUrl: "{url}"',
            f"publishedDateTime: 2021-03-{day:02d}T09:00:00Z",
            "quality: 50",
            "provider:",
            f"  name: {provider}",
            "---",
            "",
        ]
    )


def test_a_story_link_saved_before_an_update_still_opens_the_story_that_holds_its_item(tmp_path):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    text = "Acme agreed to buy Globex for two billion dollars in cash"
    (seeds / "b.md").write_text(event_seed("Acme buys Globex for 2 billion", "https://b.org/1", 10, "Bee", text))
    (seeds / "c.md").write_text(event_seed("Acme to buy Globex for 2 billion", "https://c.org/1", 11, "Cee", text))
    (seeds / "x.md").write_text(event_seed("Initech opens a plant", "https://x.org/1", 10, "Ex", "Initech jobs"))
    build.full_build(seeds, index)
    first = SearchEngine(index).search(build_request("globex"))
    assert [h["story"] for h in first["hits"]] == ["b.org/1"]  # one card, named by its earliest item
    link = "story=b.org/1"  # what the page's "All items of this story" link holds
    # an earlier report of the same event arrives: the story grows and is now named by it
    (seeds / "a.md").write_text(event_seed("Acme will buy Globex for 2 billion", "https://a.org/1", 9, "Ay", text))
    assert incremental.update(seeds, index).mode == "incremental"
    engine = SearchEngine(index)
    hits = engine.search(build_request("globex"))["hits"]
    assert [(h["story"], h["story_items"], h["story_sources"]) for h in hits] == [("a.org/1", 3, 3)]
    opened = engine.search(build_request("", filters=[link], group=False))
    assert sorted(h["key"] for h in opened["hits"]) == ["a.org/1", "b.org/1", "c.org/1"]
    assert engine.search(build_request("", filters=["story=x.org/1"], group=False))["total"] == 1
    assert_stories_as_a_full_build(index)


def test_a_collection_too_broad_to_cluster_keeps_every_item_alone_through_updates(tmp_path, monkeypatch):
    from indexer import events

    monkeypatch.setattr(events, "BUDGET", 0)  # too many alike pairs even for near-duplicates
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    text = "Acme agreed to buy Globex for two billion dollars in cash"
    (seeds / "b.md").write_text(event_seed("Acme buys Globex for 2 billion", "https://b.org/1", 10, "Bee", text))
    (seeds / "c.md").write_text(event_seed("Acme to buy Globex for 2 billion", "https://c.org/1", 11, "Cee", text))
    build.full_build(seeds, index)
    assert persisted.load(generations.current_generation(index)).stories_mode == "off"
    (seeds / "a.md").write_text(event_seed("Acme will buy Globex for 2 billion", "https://a.org/1", 9, "Ay", text))
    assert incremental.update(seeds, index).mode == "incremental"
    data = persisted.load(generations.current_generation(index))
    assert data.stories_mode == "off" and np.array_equal(data.story, np.arange(data.doc_count))
    assert [h["story_items"] for h in SearchEngine(index).search(build_request("globex"))["hits"]] == [1, 1, 1]
    assert_stories_as_a_full_build(index)


def planned_per_item(index: Path) -> dict[str, float]:
    """Candidate pairs per dated item a full clustering of the index's items would enumerate, per mode."""
    from indexer import event_links, events

    gen = generations.current_generation(index)
    data = persisted.load(gen)
    items = stories.items_of(Store(gen), np.asarray(data.live), np.asarray(data.published), data.postings)
    scope = np.flatnonzero(items.published >= 0)
    return {
        mode: event_links.planned(event_links.plans(items, scope, events.bars(mode))) / len(scope)
        for mode in (events.EVENTS, events.NEAR)
    }


def test_a_collection_too_broad_for_events_keeps_its_near_duplicates_through_updates(tmp_path, monkeypatch):
    from indexer import events

    release = "Acme releases DeskSuite 2 for small offices with a new mail client"
    files = {
        "a.md": event_seed("Acme releases DeskSuite 2", "https://a.org/1", 10, "Ay", release),
        "b.md": event_seed("Acme releases DeskSuite 2", "https://b.org/1", 11, "Bee", release),  # a repost
        "c.md": event_seed("DeskSuite 2 tested", "https://c.org/1", 11, "Cee", "Acme DeskSuite 2 for small offices"),
        "d.md": event_seed("Acme releases DeskSuite 2", "https://d.org/1", 12, "Dee", release),  # comes in an update
    }
    plans = []  # the budget: events too broad, near-duplicates within it, before and after the update
    for count in (3, 4):
        seeds, index = tmp_path / f"seeds{count}", tmp_path / f"index{count}"
        seeds.mkdir()
        for name in sorted(files)[:count]:
            (seeds / name).write_text(files[name])
        build.full_build(seeds, index)
        plans.append(planned_per_item(index))
    events_stories = {
        h["key"]: h["story"] for h in SearchEngine(index).search(build_request("desksuite", group=False))["hits"]
    }
    assert set(events_stories.values()) == {"a.org/1"}  # as events (within the default budget): one launch
    budget = max(p[events.NEAR] for p in plans)
    assert budget < min(p[events.EVENTS] for p in plans)
    monkeypatch.setattr(events, "BUDGET", budget)
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        (seeds / name).write_text(files[name])
    build.full_build(seeds, index)
    assert persisted.load(generations.current_generation(index)).stories_mode == events.NEAR
    (seeds / "d.md").write_text(files["d.md"])
    assert incremental.update(seeds, index).mode == "incremental"
    assert persisted.load(generations.current_generation(index)).stories_mode == events.NEAR
    hits = SearchEngine(index).search(build_request("desksuite", group=False))["hits"]
    assert sorted((h["key"], h["story"]) for h in hits) == [
        ("a.org/1", "a.org/1"),
        ("b.org/1", "a.org/1"),
        ("c.org/1", "c.org/1"),  # the same launch in other words: an event, not a copy
        ("d.org/1", "a.org/1"),
    ]
    assert_stories_as_a_full_build(index)


def test_an_update_takes_over_what_replaced_versions_held_and_analyzes_only_the_newly_replaced(tmp_path, monkeypatch):
    from indexer import replaced

    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(POWER_APPS / "base", seeds)
    build.full_build(seeds, index)
    analyzed: list[int] = []
    real = replaced.analyzed_texts
    monkeypatch.setattr(replaced, "analyzed_texts", lambda stored: analyzed.append(1) or real(stored))
    monkeypatch.setattr(build, "MERGE_SMALL", 100)  # no merge: what merged-away replaced versions held is read again
    for number, update in enumerate(sorted((POWER_APPS / "updates").iterdir())[:6], start=1):
        before = generations.current_generation(index)
        apply_update(seeds, update)
        incremental.update(seeds, index)
        gen = generations.current_generation(index)
        store, data = Store(gen), persisted.load(gen)
        deleted = np.flatnonzero(~np.asarray(data.live))
        assert store.segments()[: len(Store(before).segments())] == Store(before).segments()  # no merge yet
        newly = len(deleted) - int((~np.asarray(persisted.load(before).live)).sum())
        assert len(analyzed) == newly, number  # only the versions this update replaced were read again
        analyzed.clear()
        lengths, held = replaced.live_statistics(store, deleted)  # everything analyzed anew
        analyzed.clear()
        assert data.field_lengths == lengths
        assert {data.deleted_terms[i]: int(c) for i, c in enumerate(data.deleted_counts)} == {
            f"{field}\x00{term}": count for (field, term), count in held.items() if count
        }


def _merge_in_the_middle(writer, segments: list) -> list:
    """A merge policy that merges the second and third segments: those after them move (the general carry path)."""
    from indexer import storage

    if len(segments) < 4:
        return segments
    chosen = segments[1:3]
    storage.merge_into(writer, chosen)
    return [segment for segment in segments if segment not in chosen]


@pytest.mark.parametrize("policy", ["tail", "middle"])
def test_an_update_carries_the_followed_generations_arrays_over_exactly_as_deriving_them_anew(
    folder, tmp_path, monkeypatch, policy
):
    """Carried over (indexer.carry) through plain updates and merges, array for array, in order and type.

    The product's policy merges trailing segments (their documents move into the new segment's
    tail); a policy merging segments in the middle moves every document after them (the general path).
    """
    from indexer import carry, derive
    from tests.test_persisted import snapshot_of_arrays

    index = build_index(folder, tmp_path, 60)
    if policy == "middle":  # a Whoosh merge policy: the update goes through Whoosh's writer
        monkeypatch.setattr(build, "merge_small_tail", _merge_in_the_middle)
        monkeypatch.setattr(bulk_segment, "append_segment", lambda *a, **k: None)
    paths: list[str] = []
    real = carry.posting_table

    def recording(old, docs, *rest):
        paths.append("identity" if docs.identity else "tail" if docs.fresh_end >= 0 else "general")
        return real(old, docs, *rest)

    monkeypatch.setattr(carry, "posting_table", recording)
    for round_no in range(13):
        path = folder / f"filler-{round_no:04d}.md"
        topics = ("AI", f"Topic {round_no % 3}") if round_no % 2 else ("Cloud",)
        title = f"Filler {round_no} revised newword{round_no}"
        path.write_text(seed(title, f"https://f.org/{round_no}", topics=topics))
        if round_no % 3 == 2:  # an item of the last update's segment replaced again: not carried into a merge
            again = folder / f"filler-{round_no - 1:04d}.md"
            again.write_text(seed(f"Filler {round_no - 1} again twiceword", f"https://f.org/{round_no - 1}"))
        if round_no % 4 == 3:
            (folder / f"filler-{40 + round_no:04d}.md").unlink()  # a removed item: its words and values may vanish
        if round_no == 5:
            (folder / "2021-01-02-b.md").unlink()  # the only AI article and its exclusive related item
        assert incremental.update(folder, index).mode == "incremental"
        gen = generations.current_generation(index)
        ours = persisted.load(gen)
        anew = derive.derive(Store(gen))
        assert snapshot_of_arrays(ours) == snapshot_of_arrays(anew), round_no
        for field, table in anew.postings.items():
            theirs = ours.postings[field]
            assert theirs.terms.to_list() == table.terms.to_list(), (round_no, field)
            for name in ("starts", "ids", "tfs"):
                a, b = np.asarray(getattr(theirs, name)), np.asarray(getattr(table, name))
                assert a.dtype == b.dtype and np.array_equal(a, b), (round_no, field, name)
    # plain updates, and merges carried by the path the policy calls for
    assert "identity" in paths and ("tail" if policy == "tail" else "general") in paths, paths
    assert "general" not in paths if policy == "tail" else "tail" not in paths, paths
    assert_same_as_full_build(folder, index, tmp_path)


def test_an_empty_index_grows_by_updates_whose_carried_arrays_equal_deriving_them_anew(tmp_path):
    from indexer import derive
    from tests.test_persisted import snapshot_of_arrays

    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    build.full_build(seeds, index)  # no segment at all: the first update's segment is all new
    for round_no in range(2):
        (seeds / f"2021-01-0{round_no}.md").write_text(seed(f"Story {round_no}", f"https://e.org/{round_no}"))
        assert incremental.update(seeds, index).mode == "incremental"
        gen = generations.current_generation(index)
        ours, anew = persisted.load(gen), derive.derive(Store(gen))
        assert snapshot_of_arrays(ours) == snapshot_of_arrays(anew)
        assert {f: t.terms.to_list() for f, t in ours.postings.items()} == {
            f: t.terms.to_list() for f, t in anew.postings.items()
        }


def test_each_files_keys_live_beside_the_manifest_and_an_older_manifest_holding_them_still_updates(folder, tmp_path):
    import json

    index = build_index(folder, tmp_path)
    gen = generations.current_generation(index)
    keys = generations.read_keys(gen)
    assert keys == {
        "2021-01-01-a.md": ["a.org/1", "r.org/shared"],
        "2021-01-02-b.md": ["b.org/1", "r.org/beta-only", "r.org/shared"],
        "2021-01-03-c.md": ["c.org/1"],
    }
    assert all("keys" not in entry for entry in generations.read_manifest(gen)["files"].values())
    # a generation written before keys.txt (and files.bin): the keys inside the manifest's entries
    manifest = generations.read_manifest(gen)
    manifest["files"] = {rel: {**entry, "keys": keys[rel]} for rel, entry in manifest["files"].items()}
    (gen / generations.MANIFEST).write_text(json.dumps(manifest))
    (gen / generations.KEYS).unlink()
    (gen / generations.FILES).unlink()
    (folder / "2021-01-02-b.md").write_text(seed("Beta article", "https://b.org/1", topics=("AI",)))  # drops two
    report = incremental.update(folder, index)
    assert (report.mode, report.docs_removed, report.docs_updated) == ("incremental", 1, 2)
    assert generations.read_keys(generations.current_generation(index))["2021-01-02-b.md"] == ["b.org/1"]
    assert_same_as_full_build(folder, index, tmp_path)


def test_an_update_that_changes_no_files_keys_shares_keys_txt_and_one_that_does_writes_it(folder, tmp_path):
    """keys.txt (160k lines at 100k documents) is written only when some file's URL keys changed."""
    index = build_index(folder, tmp_path)
    first = generations.current_generation(index)
    (folder / "2021-01-03-c.md").write_text(seed("Gamma article, revised", "https://c.org/1", topics=("Data",)))
    assert incremental.update(folder, index).mode == "incremental"
    second = generations.current_generation(index)
    assert second != first
    assert (second / generations.KEYS).stat().st_ino == (first / generations.KEYS).stat().st_ino  # the same file
    (folder / "2021-01-03-c.md").write_text(seed("Gamma article", "https://c.org/2", topics=("Data",)))  # a new URL
    assert incremental.update(folder, index).mode == "incremental"
    third = generations.current_generation(index)
    assert (third / generations.KEYS).stat().st_ino != (second / generations.KEYS).stat().st_ino
    assert generations.read_keys(third)["2021-01-03-c.md"] == ["c.org/2"]
    assert_same_as_full_build(folder, index, tmp_path)


def test_an_update_runs_with_the_garbage_collector_paused_and_turns_it_back_on(folder, tmp_path, monkeypatch):
    import gc

    index = build_index(folder, tmp_path)
    seen: list[bool] = []
    real = incremental.write_documents
    monkeypatch.setattr(incremental, "write_documents", lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k))
    read = generations.read_manifest  # the manifest's 20k entries: the collector ran 29 times while reading them
    monkeypatch.setattr(generations, "read_manifest", lambda gen: seen.append(gc.isenabled()) or read(gen))
    (folder / "2021-01-03-c.md").write_text(seed("Gamma article, revised", "https://c.org/1", topics=("Data",)))
    assert gc.isenabled()
    assert incremental.update(folder, index).mode == "incremental"
    assert seen == [False, False] and gc.isenabled()


def test_an_update_seeks_new_neighbours_only_for_items_whose_text_date_or_list_changed(tmp_path, monkeypatch):
    """An item re-derived as it was (its file changed elsewhere) links to what it linked to: no neighbour search."""
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(POWER_APPS / "base", seeds)
    build.full_build(seeds, index)
    assert persisted.load(generations.current_generation(index)).stories_mode != "off"
    sought: list[int] = []
    real = stories._near
    monkeypatch.setattr(stories, "_near", lambda fresh, *rest: sought.append(len(fresh)) or real(fresh, *rest))
    path = next(p for p in sorted(seeds.rglob("*.md")) if "\nquality: " in p.read_text(encoding="utf-8"))
    text = path.read_text(encoding="utf-8")
    changed = re.sub(r"(?m)^quality: \d+", "quality: 3", text, count=1)  # what clustering never reads
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    report = incremental.update(seeds, index)
    assert report.mode == "incremental" and report.docs_updated > 0
    assert sought == [0]  # every item of the file came out as before
    assert_stories_as_a_full_build(index)
    path.write_text(changed.replace('title: "', 'title: "Renamed ', 1), encoding="utf-8")
    assert incremental.update(seeds, index).mode == "incremental"
    assert sought[1] >= 1  # the renamed item looks for neighbours
    assert_stories_as_a_full_build(index)
    assert_same_as_full_build(seeds, index, tmp_path)


def test_file_keys_find_the_files_holding_some_keys_in_the_flat_list():
    keys = generations.FileKeys.of({"a.md": ["x", "y"], "b.md": [], "c.md": ["y", "z"], "d.md": ["w"]})
    assert keys.holding({"y", "q"}) == ({"a.md", "c.md"}, {"y"})
    assert keys.holding({"w", "x"}) == ({"a.md", "d.md"}, {"w", "x"})
    assert keys.holding({"q"}) == (set(), set())
    assert keys["b.md"] == [] and keys["c.md"] == ["y", "z"] and keys.get("e.md") is None
    assert dict(keys) == {"a.md": ["x", "y"], "b.md": [], "c.md": ["y", "z"], "d.md": ["w"]}


def test_a_carried_posting_list_is_spliced_as_masking_and_inserting_would():
    """``carry._pieces``/``_spliced`` copy each array once; the result is the mask and ``np.insert`` it replaced."""
    from indexer.carry import _pieces, _spliced

    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 300):
        old = rng.integers(0, 1000, n).astype(np.int32)
        dropped = np.flatnonzero(rng.random(n) < 0.2)
        kept = np.delete(old, dropped)
        lengths = rng.integers(0, 4, rng.integers(0, 12))  # empty runs and several runs at one place too
        places = np.sort(rng.integers(0, len(kept) + 1, len(lengths)))
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        added = rng.integers(1000, 2000, int(starts[-1])).astype(np.int32)
        expected = np.insert(kept, np.repeat(places, lengths), added)
        got = _spliced(_pieces(n, dropped, places, starts), old, added, np.int32)
        assert got.dtype == np.int32 and got.tolist() == expected.tolist()


def test_file_keys_read_from_keys_txt_find_the_same_files_as_a_scan_of_every_key(tmp_path):
    """``holding`` narrows by a number per line (length and last eight bytes) and confirms by the key."""
    import random

    rng = random.Random(3)
    stems = ["https://a.org/", "https://b.org/ü/", "x", "https://a.org/long/"]
    # same length, same last eight bytes (they differ 9 bytes from the end): only the confirmation tells them apart
    pool = [f"{rng.choice(stems)}{rng.randint(0, 40)}/{rng.choice('ab')}" for _ in range(300)]
    pool += ["https://a.org/1xxxxyyyy/z", "https://a.org/2xxxxyyyy/z", "é"]
    files = {f"{i:03d}.md": sorted(set(rng.sample(pool, rng.randint(0, 6)))) for i in range(60)}
    files["fixed.md"] = ["https://a.org/1xxxxyyyy/z"]
    generations.write_keys(tmp_path, files)
    keys = generations.read_keys(tmp_path)
    assert dict(keys) == files
    for wanted in ({"https://a.org/2xxxxyyyy/z"}, {"é", "nowhere"}, set(rng.sample(pool, 40)), set()):
        holders = {rel for rel, held in files.items() if wanted & set(held)}
        assert keys.holding(wanted) == (holders, {k for held in files.values() for k in held if k in wanted})
