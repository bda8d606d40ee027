"""The record cache of full builds: unchanged files are taken from it, and nothing stale or damaged is."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from indexer import build, record_cache, seeds
from indexer.record_cache import CACHE_NAME, RecordCache
from tests.conftest import AI_CORPUS, BROKEN
from tests.test_update import snapshot


@pytest.fixture
def folder(tmp_path) -> Path:
    """The AI corpus (224 files) and a broken file: the broken one is never cached."""
    seeds_dir = tmp_path / "seeds"
    shutil.copytree(AI_CORPUS, seeds_dir)
    shutil.copytree(BROKEN, seeds_dir / "broken")
    return seeds_dir


def rebuild(seeds_dir: Path, index: Path) -> build.BuildReport:
    return build.full_build(seeds_dir, index)


def fresh(seeds_dir: Path, tmp_path: Path) -> dict:
    """What a build without any cache shows."""
    index = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
    rebuild(seeds_dir, index)
    return snapshot(index)


def test_a_rebuild_takes_every_unchanged_file_from_the_cache_and_answers_the_same(folder, tmp_path, monkeypatch):
    index = tmp_path / "index"
    first = rebuild(folder, index)
    assert first.files_cached == 0 and (index / CACHE_NAME).is_file()
    before = snapshot(index)
    # in forked readers too, as a large corpus is read (the pool sees which files the cache holds)
    monkeypatch.setattr(seeds, "PARALLEL_READ_MIN_FILES", 1)
    monkeypatch.setattr(build, "build_procs", lambda: 2)
    second = rebuild(folder, index)
    parsed = first.files_read - len(first.problems)
    assert second.files_cached == parsed > 200 and second.problems == first.problems
    assert "from the record cache" in second.summary()
    assert snapshot(index) == before


def test_a_changed_file_is_parsed_anew(folder, tmp_path):
    index = tmp_path / "index"
    first = rebuild(folder, index)
    changed = sorted(folder.rglob("*.md"))[3]
    text = changed.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    changed.write_text(text.replace(title, 'title: "Zyxwvut quarterly cache probe"', 1), encoding="utf-8")
    second = rebuild(folder, index)
    assert second.files_cached == first.files_read - len(first.problems) - 1
    after = snapshot(index)
    assert any(d["title"] == "Zyxwvut quarterly cache probe" for d in after["documents"])
    assert after == fresh(folder, tmp_path)


def test_another_parser_version_parses_every_file(folder, tmp_path, monkeypatch):
    index = tmp_path / "index"
    rebuild(folder, index)
    monkeypatch.setattr(record_cache, "parser_version", lambda: "another parser")
    assert RecordCache.load(index).entries == {}
    assert rebuild(folder, index).files_cached == 0
    assert rebuild(folder, index).files_cached > 200  # the cache was written anew for that version


def test_a_damaged_entry_is_parsed_instead_of_used(folder, tmp_path):
    index = tmp_path / "index"
    first = rebuild(folder, index)
    data = (index / CACHE_NAME).read_bytes()
    magic = data[: data.index(b"\n") + 1]
    version, entries = pickle.loads(data[len(magic) :])
    key = sorted(entries)[5]
    digest, payload = entries[key]
    # one byte of one record changed in place: still a pickle, but not what was written
    at = payload.index(b"http")
    entries[key] = (digest, payload[:at] + b"H" + payload[at + 1 :])
    (index / CACHE_NAME).write_bytes(magic + pickle.dumps((version, entries)))
    assert RecordCache.load(index).get(*key) is None
    second = rebuild(folder, index)
    assert second.files_cached == first.files_read - len(first.problems) - 1
    assert snapshot(index) == fresh(folder, tmp_path)


def test_a_damaged_cache_file_is_no_cache(folder, tmp_path):
    index = tmp_path / "index"
    first = rebuild(folder, index)
    data = (index / CACHE_NAME).read_bytes()
    (index / CACHE_NAME).write_bytes(data[: len(data) // 2])  # cut short, as by a full disk
    assert RecordCache.load(index).entries == {}
    second = rebuild(folder, index)
    assert second.files_cached == 0 and second.files_read == first.files_read
    assert snapshot(index) == fresh(folder, tmp_path)


def test_files_parsed_in_workers_are_cached_as_the_workers_pickled_them(folder, tmp_path, monkeypatch):
    """The parent stores the bytes a worker sent (no second pickling of every record) and the cache answers the same."""
    monkeypatch.setattr(seeds, "PARALLEL_READ_MIN_FILES", 1)
    monkeypatch.setattr(build, "build_procs", lambda: 2)
    index = tmp_path / "index"
    dumps, parent = pickle.dumps, os.getpid()

    def only_whole_files(obj, *args, **kwargs):  # records are pickled in the workers, not again here
        records = isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], list)
        assert not (records and os.getpid() == parent), "records pickled again"
        return dumps(obj, *args, **kwargs)

    monkeypatch.setattr(record_cache.pickle, "dumps", only_whole_files)
    rebuild(folder, index)
    monkeypatch.undo()
    cache = RecordCache.load(index)
    rel, _ = min(cache.entries)
    parsed = seeds.read_seed_file(folder, rel)
    cached = cache.get(parsed.path, parsed.sha256)
    assert cached is not None and cached.records == parsed.records and cached.warnings == parsed.warnings
    assert pickle.loads(pickle.dumps(parsed)) == parsed


def test_dropping_the_workers_pickles_frees_them_with_or_without_glibc(monkeypatch):
    seed = pickle.loads(pickle.dumps(seeds.parse_seed_bytes("x.md", b"---\ntitle: t\nwebUrl: https://x.org/a\n---\n")))
    assert seed.pickled  # as a parsing worker sends it
    record_cache.drop_pickles([seed])
    assert seed.pickled is None and seed.records[0].key == "x.org/a"

    def no_libc(name):
        raise OSError(f"{name}: not here")

    monkeypatch.setattr(record_cache.ctypes, "CDLL", no_libc)
    record_cache.drop_pickles([seed])


def test_a_build_and_an_update_keep_no_worker_pickle_once_read(folder, tmp_path, monkeypatch):
    """The bytes a parsing worker sent a file as are let go: after the cache stores them, or at once without one."""
    from indexer import incremental

    monkeypatch.setattr(seeds, "PARALLEL_READ_MIN_FILES", 1)  # parse in workers even for a few files
    monkeypatch.setattr(build, "build_procs", lambda: 2)  # even where an earlier test left a thread running
    read: list[dict] = []
    sent_pickled: list[bool] = []
    real_read = build.read_seed_files

    def spy(*args, **kwargs):
        found, entries = real_read(*args, **kwargs)
        read.append(found)
        sent_pickled.append(any(seed.pickled for seed in found.values()))
        return found, entries

    monkeypatch.setattr(build, "read_seed_files", spy)
    monkeypatch.setattr(incremental, "read_seed_files", spy)
    index = tmp_path / "index"
    build.full_build(folder, index)
    assert sent_pickled == [True]  # as the workers sent them, until the cache stores them
    assert all(seed.pickled is None for seed in read[0].values())  # ... and after the build
    changed = sorted(folder.rglob("*.md"))[:3]
    for path in changed:
        path.write_text(path.read_text(encoding="utf-8").replace("title:", "title: x", 1), encoding="utf-8")
    incremental.update(folder, index)
    assert len(read) == 2 and read[1] and all(seed.pickled is None for seed in read[1].values())
