"""Derived arrays persisted by the build: mapped at open, equal to what a searcher would compute, safe on update."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from indexer import build, generations, incremental, persisted
from indexer.derive import derive
from indexer.schema import TEXT_FIELDS
from indexer.storage import Store
from search.engine import SearchEngine
from search.request import build_request
from tests.test_documents import seed


def derived_by_key(gen: Path) -> dict:
    """A generation's persisted data with document numbers replaced by keys (builds order documents differently)."""
    data = persisted.load(gen)
    assert data is not None, f"{gen} has no derived files"
    store = Store(gen)
    keys = {d: store.stored(d)["key"] for d in np.flatnonzero(np.asarray(data.live)).tolist()}
    stories: dict[int, set[str]] = {}
    groups: dict[int, set[str]] = {}
    for d, key in keys.items():
        stories.setdefault(int(data.story[d]), set()).add(key)
        groups.setdefault(int(data.group[d]), set()).add(key)
    docs = {
        key: (
            int(data.quality[d]),
            int(data.tiebreak[d]),
            int(data.published[d]),
            int(data.days[d]),
            int(data.months[d]),
            tuple(float(data.lengths[f][d]) for f in TEXT_FIELDS),
            frozenset(stories[int(data.story[d])]),
            keys[int(data.story[d])],  # the story's id: its earliest item
            frozenset(groups[int(data.group[d])]),
            keys[int(data.group[d])],
            int(data.key_hash[d]),
        )
        for d, key in keys.items()
    }
    facets = {
        field: sorted((keys[int(d)], t.values[int(o)]) for d, o in zip(t.doc_ids, t.ords, strict=True))
        for field, t in data.facets.items()
    }
    layers = {  # each live document's values as the layers hold them
        field: sorted(
            (keys[d], tuple(sorted(t.values[o] for o in np.asarray(t.layers)[:, d].tolist() if o < len(t.values))))
            for d in keys
        )
        for field, t in data.facets.items()
    }
    vocabulary = {w: int(df) for w, df in zip(data.vocabulary, data.vocabulary_df, strict=True) if df > 0}
    postings = {
        field: {
            term: sorted((keys[int(d)], float(tf)) for d, tf in zip(*table.get(term), strict=True))
            for term in table.terms
        }
        for field, table in data.postings.items()
    }
    return {
        "live": len(keys),
        "docs": docs,
        "field_lengths": data.field_lengths,
        "facets": facets,
        "layers": layers,
        "vocabulary": vocabulary,
        "postings": postings,
    }


def assert_persisted_equal(incremental: Path, full: Path) -> None:
    """Two indexes' live generations persisted the same data (by document key)."""
    ours = derived_by_key(generations.current_generation(incremental))
    theirs = derived_by_key(generations.current_generation(full))
    for part in theirs:
        assert ours[part] == theirs[part], part


def snapshot_of_arrays(data: persisted.Derived) -> dict:
    names = ("live", "quality", "tiebreak", "published", "days", "months", "key_hash", "group")
    arrays = {name: np.asarray(getattr(data, name)).tolist() for name in names}
    arrays["story"] = np.asarray(data.story).tolist()
    arrays["lengths"] = {f: np.asarray(v).tolist() for f, v in data.lengths.items()}
    arrays["facets"] = {
        f: (t.values, np.asarray(t.doc_ids).tolist(), np.asarray(t.ords).tolist(), np.asarray(t.layers).tolist())
        for f, t in data.facets.items()
    }
    arrays["vocabulary"] = list(zip(data.vocabulary, np.asarray(data.vocabulary_df).tolist(), strict=True))
    arrays["deleted"] = list(zip(data.deleted_terms, np.asarray(data.deleted_counts).tolist(), strict=True))
    arrays["field_lengths"] = data.field_lengths
    return arrays


def test_the_mapped_arrays_equal_what_an_open_would_compute(all_engine):
    gen = all_engine.generation()
    assert gen.mapped and persisted.is_mapped(gen.live) and persisted.is_mapped(gen.facets["topics"].doc_ids)
    computed = derive(Store(gen.path))
    assert snapshot_of_arrays(gen.derived) == snapshot_of_arrays(computed)
    for field in TEXT_FIELDS:
        for term in list(computed.postings[field].terms)[:200]:
            ids, tfs = gen.scoring.postings(field, term)
            assert persisted.is_mapped(ids)  # a view of the mapped file: no copy per process
            theirs = computed.postings[field].get(term)
            assert ids.tolist() == theirs[0].tolist() and tfs.tolist() == theirs[1].tolist()
    # term frequencies are counts: persisted in a byte each, mapped, read as Whoosh weighs them
    for field in TEXT_FIELDS:
        table = gen.derived.postings[field]
        assert table.tfs.dtype == np.uint8 and persisted.is_mapped(table.tfs), field


def test_term_frequencies_take_the_narrowest_type_that_holds_them_exactly():
    from indexer.tables import frequencies

    assert frequencies(np.asarray([1.0, 3.0, 255.0])).dtype == np.uint8
    assert frequencies(np.asarray([1.0, 256.0])).dtype == np.uint16
    assert frequencies(np.asarray([1.0, 70000.0])).dtype == np.float64
    assert frequencies(np.asarray([1.0, 2.5])).dtype == np.float64  # a weight that is not a count stays as it is
    assert frequencies(np.asarray([300], dtype=np.uint16)[:0]).dtype == np.uint8
    assert frequencies(np.asarray([3, 200], dtype=np.uint16)).tolist() == [3, 200]
    # a BM25 over them is the float64 one, bit for bit
    tf, length = np.asarray([1.0, 2.0, 7.0]), np.asarray([3.0, 10.0, 41.0])
    exact = 2.1 * ((tf * 2.2) / (tf + 1.2 * (0.25 + 0.75 * length / 12.5)))
    narrow = frequencies(tf)
    assert np.array_equal(2.1 * ((narrow * 2.2) / (narrow + 1.2 * (0.25 + 0.75 * length / 12.5))), exact)
    from search.ranking import POLICY  # ... and so is the scorer's own formula

    assert np.array_equal(
        POLICY.bm25("excerpt", 2.1, narrow, length, 12.5), POLICY.bm25("excerpt", 2.1, tf, length, 12.5)
    )


def folder_with(tmp_path: Path, count: int) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for i in range(count):
        (seeds / f"2021-01-{i:03d}.md").write_text(
            seed(f"Story {i} about cloud data", f"https://a.org/{i}", topics=("Cloud",) if i % 2 else ("AI", "Data"))
        )
    return seeds


def index_of_several_segments(tmp_path: Path) -> Path:
    """A built index after three updates: each adds a segment and replaces an older version."""
    seeds = folder_with(tmp_path, 12)
    index = tmp_path / "index"
    build.full_build(seeds, index)
    merge_small, build.MERGE_SMALL = build.MERGE_SMALL, 100  # no merge of the small segments (the third would)
    try:
        for i in range(3):
            (seeds / f"2021-01-{i:03d}.md").write_text(seed(f"Story {i} revised: zeta {i}", f"https://a.org/{i}"))
            incremental.update(seeds, index)
    finally:
        build.MERGE_SMALL = merge_small
    return index


def file_digests(folder: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_ino, hashlib.sha256(p.read_bytes()).hexdigest()) for p in sorted(folder.iterdir())}


def test_an_update_writes_new_derived_files_and_never_touches_the_live_ones(tmp_path):
    seeds = folder_with(tmp_path, 30)
    index = tmp_path / "index"
    build.full_build(seeds, index)
    live = generations.current_generation(index)
    before = file_digests(live / persisted.DIRECTORY)
    (seeds / "2021-01-003.md").write_text(seed("Story 3 revised: quantum", "https://a.org/3", topics=("Quantum",)))
    incremental.update(seeds, index)
    fresh = generations.current_generation(index)
    assert fresh != live
    assert file_digests(live / persisted.DIRECTORY) == before  # the generation being served is untouched
    for path in (fresh / persisted.DIRECTORY).iterdir():  # carried over into new files (indexer.carry)
        assert path.stat().st_nlink == 1, f"{path.name} is shared with another generation"
    assert SearchEngine(index).search(build_request("quantum"))["total"] == 1


def test_every_derived_array_is_durable_before_its_name_and_the_meta_file_appear(tmp_path, monkeypatch):
    seeds = folder_with(tmp_path, 12)
    index = tmp_path / "index"
    build.full_build(seeds, index)
    data = persisted.load(generations.current_generation(index))
    synced: set[str] = set()
    renamed: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src, dst) -> None:
        if Path(src).parent.name == persisted.DIRECTORY and Path(dst).name != persisted.META:
            assert str(src) in synced, f"{Path(dst).name} named before its data was fsynced"
        renamed.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)  # the writes settle on a pool of threads: patched process-wide
    monkeypatch.setattr(os, "replace", replace)
    gen = tmp_path / "copy"
    gen.mkdir()
    persisted.save(gen, data)
    arrays = sorted(p.name for p in (gen / persisted.DIRECTORY).glob("*.npy"))
    assert renamed[-1] == persisted.META and sorted(renamed[:-1]) == arrays  # the meta file last
    assert snapshot_of_arrays(persisted.load(gen)) == snapshot_of_arrays(data)


def test_an_index_built_without_derived_files_opens_and_answers_the_same(tmp_path):
    seeds = folder_with(tmp_path, 30)
    index = tmp_path / "index"
    build.full_build(seeds, index)
    variants = ({}, {"filters": ["topics=AI"]})
    requests = [build_request(q, **kw) for q in ("", "cloud", "story dat", "clod") for kw in variants]
    mapped = SearchEngine(index, cache_entries=0)
    assert mapped.generation().mapped
    expected = [mapped.search(r) for r in requests]
    shutil.rmtree(generations.current_generation(index) / persisted.DIRECTORY)
    older = SearchEngine(index, cache_entries=0)
    assert not older.generation().mapped  # computed in memory, as every open used to
    for request, answer in zip(requests, expected, strict=True):
        assert {**older.search(request), "took_ms": 0} == {**answer, "took_ms": 0}
    # and a plain `index` run writes them (a new generation of the same documents), no full build
    report = incremental.update(seeds, index)
    assert report.mode == "incremental" and report.docs_added == report.docs_updated == report.docs_removed == 0
    upgraded = SearchEngine(index, cache_entries=0)
    assert upgraded.generation().mapped
    for request, answer in zip(requests, expected, strict=True):
        volatile = {"took_ms": 0, "generation": ""}
        assert {**upgraded.search(request), **volatile} == {**answer, **volatile}
    assert incremental.update(seeds, index).mode == "unchanged"


def test_a_generation_lists_a_storys_live_items_as_a_scan_of_every_document_would(tmp_path, ai_engine):
    from search.engine import SearchEngine

    # one generation with replaced versions (dead items) and one with stories of several items
    several = SearchEngine(index_of_several_segments(tmp_path)).generation()
    for gen in (several, ai_engine.generation()):
        story, live = np.asarray(gen.story), np.asarray(gen.live)
        assert not live.all() or gen is not several
        for leader in np.unique(story[live]).tolist():
            assert gen.story_items(leader).tolist() == np.flatnonzero((story == leader) & live).tolist(), leader
    assert max(len(ai_engine.generation().story_items(s)) for s in np.unique(ai_engine.generation().story)) > 2


def test_derived_data_written_before_stories_had_modes_still_loads_its_choice(tmp_path):
    """Generations of the previous release say ``stories_clustered`` (true/false), not ``stories_mode``."""
    import json

    index = tmp_path / "index"
    build.full_build(folder_with(tmp_path, 3), index)
    meta_path = generations.current_generation(index) / persisted.DIRECTORY / persisted.META
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta.pop("stories_mode") == "events"
    for clustered, mode in ((True, "events"), (False, "off")):
        meta_path.write_text(json.dumps({**meta, "stories_clustered": clustered}), encoding="utf-8")
        assert persisted.load(generations.current_generation(index)).stories_mode == mode


def test_mapping_a_generation_resolves_no_paths(seeds_index, monkeypatch):
    """numpy.memmap resolves a Path it is given (a realpath per file, 48 files an open): the loader gives it strs."""
    resolved = []
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: resolved.append(self) or self)
    data = persisted.load(generations.current_generation(seeds_index))
    assert data is not None and persisted.is_mapped(data.live)
    assert resolved == []
