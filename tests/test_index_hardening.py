"""The indexer against a hostile machine: kill -9 mid-build, stale locks, FIFOs, odd encodings."""

from __future__ import annotations

import codecs
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
from watchdog.events import FileClosedNoWriteEvent, FileModifiedEvent, FileOpenedEvent

from indexer import generations, record_cache, textfiles, writer_lock
from indexer.seeds import SeedProblem, discover, read_or_report
from indexer.watch import _Changes
from tests.conftest import SEEDS
from tests.test_documents import seed

ROOT = Path(__file__).resolve().parent.parent
BIG_FILES, BIG_RELATED = 4_500, 4  # 22,500 documents: a parallel full build takes 8 s or more on 2 cores (quiet)


def cli(*args: str | Path, wait: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEARCH_BUILD_PROCS": "2"}
    cmd = [sys.executable, "-m", "web.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=wait)


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def _live_group_members(pgid: int) -> list[int]:
    """Processes of a process group that still run (zombies have ended)."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with suppress(OSError, IndexError):
                fields = _stat_fields(name)
                if int(fields[2]) == pgid and fields[0] != "Z":
                    members.append(int(name))
    return members


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("big-corpus")
    for i in range(BIG_FILES):
        related = [(f"Coverage {i}-{j} of harbour cranes", f"https://r{j}.example.org/{i}") for j in range(BIG_RELATED)]
        (folder / f"f-{i:05d}.md").write_text(seed(f"Harbour cranes story {i}", f"https://f.org/{i}", related=related))
    return folder


# -- 1. crash-safe locking -------------------------------------------------------------------


def test_kill_9_of_a_parallel_full_build_leaves_no_orphan_workers_and_the_next_index_runs(big_corpus, tmp_path):
    index = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEARCH_BUILD_PROCS": "2"}
    # killed while the seed-parsing pool runs, then while the segment writers run (found by their
    # processes, not by a delay: a quiet machine builds this corpus in ~3.5 s); then the next run must
    # get the lock: plain `index` (would say "already running"), then `index --wait` (would hang)
    for phase, next_run in (("reading", ["index"]), ("writing", ["index", "--wait"])):
        cmd = [sys.executable, "-m", "web.cli", "--index", str(index), "--seeds", str(big_corpus)]
        # the build the previous round finished left parsed records: without them this one parses again
        # in worker processes (from the cache it would read them in-process)
        (index / record_cache.CACHE_NAME).unlink(missing_ok=True)
        # a session of its own: the build and every worker it forks share a process group to look for
        build = subprocess.Popen([*cmd, "index", "--full", "--quiet"], env=env, start_new_session=True)
        try:
            # the parsing pool's workers are the build's first children (forked together); the writers come after
            _wait_until(lambda b=build: _children(b.pid) or b.poll() is not None, 30)
            readers: set[int] = set()
            _wait_until(lambda b=build, r=readers: r.update(_children(b.pid)) or len(r) >= 2 or b.poll() is not None, 1)
            if phase == "writing":
                _wait_until(lambda b=build, r=readers: set(_children(b.pid)) - r or b.poll() is not None, 60)
            workers = _children(build.pid)
            assert build.poll() is None and workers, f"no worker processes to orphan while {phase}"
            assert phase == "reading" or not set(workers) & readers, "killed before the writers started"
            build.send_signal(signal.SIGKILL)
            assert build.wait() == -signal.SIGKILL
            survivors = not _wait_until(lambda b=build: not _live_group_members(b.pid), 5)
            assert not survivors, f"orphaned workers of the killed build: {_live_group_members(build.pid)}"
            done = cli("--index", index, "--seeds", big_corpus, *next_run, "--quiet", wait=60)
            assert done.returncode == 0, done.stderr
        finally:
            with suppress(ProcessLookupError):
                os.killpg(build.pid, signal.SIGKILL)  # only this test's build and its workers
    assert generations.read_manifest(generations.current_generation(index))["documents"] == BIG_FILES * (
        1 + BIG_RELATED
    )


def test_children_forked_while_the_lock_is_held_do_not_hold_it(tmp_path):
    with writer_lock.writer_lock(tmp_path):
        child = os.fork()
        if child == 0:  # pragma: no cover - the child only sleeps
            try:
                time.sleep(30)
            finally:
                os._exit(0)
    try:
        # the child still runs, yet the lock is free once its taker lets go
        with writer_lock.writer_lock(tmp_path):
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_a_child_forked_while_the_lock_is_held_dies_with_its_parent(tmp_path):
    script = f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from indexer import writer_lock
        with writer_lock.writer_lock(__import__("pathlib").Path({str(tmp_path)!r})):
            child = os.fork()
            if child == 0:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 1)  # let go of the test's pipes
                os.dup2(null, 2)
                time.sleep(30)
                os._exit(0)
            print(child, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """
    parent = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True)
    child = int(parent.stdout)
    try:
        assert parent.returncode == -signal.SIGKILL

        def gone() -> bool:
            try:
                return _stat_fields(child)[0] == "Z"
            except OSError:
                return True

        assert _wait_until(gone, 5), "the child outlived its parent"
    finally:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


ORPHAN_HOLDER = """
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    child = os.fork()  # inherits the lock, as the workers of an older build did
    if child == 0:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 1)  # let go of the test's pipes, so it gets the output before this ends
        os.dup2(null, 2)
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
"""


@pytest.fixture()
def orphaned_lock(tmp_path):
    """An index whose lock is held by an orphan: its taker (recorded in .lock) has exited."""
    index = tmp_path / "index"
    index.mkdir()
    taker = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ORPHAN_HOLDER), str(index / ".lock")], capture_output=True, text=True
    )
    orphan = int(taker.stdout)
    yield index, int((index / ".lock").read_text()), orphan
    with suppress(ProcessLookupError):
        os.kill(orphan, signal.SIGKILL)


def test_a_lock_held_by_orphans_is_reported_with_their_pids_and_the_command_that_fixes_it(orphaned_lock, monkeypatch):
    index, taker, orphan = orphaned_lock
    started = time.monotonic()
    out = cli("--index", index, "--seeds", SEEDS, "index", wait=30)
    assert out.returncode == 1 and time.monotonic() - started < 10
    assert f"held by process {orphan}, left over from an index update (process {taker}) that has exited" in out.stderr
    assert f"'kill {orphan}'" in out.stderr
    # --wait gives the dying workers a moment, then says the same instead of waiting forever
    monkeypatch.setattr(writer_lock, "STALE_GRACE_SECONDS", 0.5)
    with pytest.raises(writer_lock.IndexBusy, match=f"kill {orphan}"), writer_lock.writer_lock(index, wait=True):
        pass
    os.kill(orphan, signal.SIGKILL)
    assert _wait_until(lambda: not writer_lock.lock_holders(index / ".lock"), 5)
    assert cli("--index", index, "--seeds", SEEDS, "index").returncode == 0


def test_a_live_writer_is_not_taken_for_a_stale_one(tmp_path):
    with writer_lock.writer_lock(tmp_path):
        assert writer_lock.lock_holders(tmp_path / ".lock") == [os.getpid()]
        out = cli("--index", tmp_path, "--seeds", SEEDS, "index")
    assert out.returncode == 1 and f"already running (process {os.getpid()})" in out.stderr


# -- 2. files that are not regular files -----------------------------------------------------


def test_a_fifo_and_a_link_to_one_are_skipped_by_discovery_with_a_reason(tmp_path):
    shutil.copytree(SEEDS, tmp_path / "seeds")
    os.mkfifo(tmp_path / "seeds" / "stuck.md")
    os.symlink(tmp_path / "seeds" / "stuck.md", tmp_path / "seeds" / "link-to-fifo.md")
    paths, problems = discover(tmp_path / "seeds")
    assert len(paths) == 5
    assert problems == [
        SeedProblem("link-to-fifo.md", "symbolic link whose target is not a regular file (FIFO)"),
        SeedProblem("stuck.md", "not a regular file (FIFO)"),
    ]


def _read_within(seconds: float, root: Path, rel: str) -> object:
    """read_or_report in a thread; fails the test if it blocks (and unblocks it: opens the FIFO to write)."""
    result: list[object] = []
    reader = threading.Thread(target=lambda: result.append(read_or_report(root, rel)), daemon=True)
    reader.start()
    reader.join(seconds)
    if reader.is_alive():
        with suppress(OSError):
            os.close(os.open(root / rel, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"reading {rel} blocked")
    return result[0]


def test_reading_a_fifo_never_blocks_even_if_it_replaced_a_file_after_the_check(tmp_path, monkeypatch):
    fifo = tmp_path / "stuck.md"
    os.mkfifo(fifo)
    assert _read_within(5, tmp_path, "stuck.md") == SeedProblem("stuck.md", "not a regular file (FIFO)")
    # the race: stat() saw a regular file, open() meets a FIFO
    real_stat, regular = os.stat, os.stat(__file__)
    monkeypatch.setattr(textfiles.os, "stat", lambda path, **kw: regular if path == fifo else real_stat(path, **kw))
    assert _read_within(5, tmp_path, "stuck.md") == SeedProblem("stuck.md", "not a regular file (FIFO)")


def test_index_skips_a_fifo_and_misencoded_files_names_them_and_indexes_the_rest(tmp_path):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(SEEDS, seeds)
    os.mkfifo(seeds / "stuck.md")
    text = seed("Café owners meet", "https://example.org/cafe")
    (seeds / "utf16.md").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (seeds / "latin1.md").write_bytes(text.encode("latin-1"))
    (seeds / "bom.md").write_bytes(codecs.BOM_UTF8 + seed("With a BOM", "https://example.org/bom").encode())
    for _ in range(2):  # a full build, then an update: neither opens the FIFO
        out = cli("--index", index, "--seeds", seeds, "index", wait=30)
        assert out.returncode == 3, out.stderr
        assert f"skipped {seeds / 'stuck.md'}: not a regular file (FIFO)" in out.stderr
        assert f"skipped {seeds / 'utf16.md'}: not UTF-8 (UTF-16 LE with a byte-order mark" in out.stderr
        assert f"skipped {seeds / 'latin1.md'}: not UTF-8 (invalid byte 0xe9 at offset" in out.stderr
        assert "looks like Latin-1/Windows-1252; save the file as UTF-8)" in out.stderr
        assert "bom.md" not in out.stderr
    assert generations.read_manifest(generations.current_generation(index))["documents"] == 53 + 1


def test_a_name_not_utf8_is_skipped_by_name_and_a_newline_in_a_name_stays_on_its_line(tmp_path):
    # found by an adversarial pass: a Latin-1 name was indexed, and every API answer holding it was a 500
    # (its lone surrogate cannot be encoded); a newline in a name forged a "skipped" line of the report
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(SEEDS, seeds)
    latin1 = os.fsencode(seeds) + b"/caf\xe9.md"
    with open(latin1, "wb") as f:
        f.write(seed("Latin name", "https://example.org/latin").encode())
    (seeds / "bad\nskipped fake.md: forged.md").write_text(seed("Newline name", "https://example.org/nl"))
    (seeds / "broken\nx.md").write_text("---\ntitle: broken: [\n---\n")
    out = subprocess.run(
        [sys.executable, "-m", "web.cli", "--index", index, "--seeds", seeds, "index", "--json"],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert out.returncode == 3
    stderr, stdout = out.stderr.decode("utf-8"), out.stdout.decode("utf-8")  # strict: no raw byte went out
    assert f"skipped {seeds}/caf\\xe9.md: its name is not UTF-8: rename it" in stderr
    assert f"skipped {seeds}/broken\\nx.md: invalid YAML" in stderr
    assert "forged" not in stderr and len(stderr.strip().splitlines()) == 2  # one line a skipped file
    assert '"path": "caf\\udce9.md"' in stdout
    assert generations.read_manifest(generations.current_generation(index))["documents"] == 53 + 1  # the newline one


def test_serve_building_its_first_index_reports_skipped_files_as_index_does(tmp_path, monkeypatch):
    # serve printed its first build's skipped files itself, names raw: a newline forged a report line
    from click.testing import CliRunner

    import web
    from web.cli import main

    class Stop(Exception):
        pass

    def fake_create_app(config):
        raise Stop

    shutil.copytree(SEEDS, tmp_path / "seeds")
    (tmp_path / "seeds" / "broken\nskipped fake.md").write_text("---\ntitle: broken: [\n---\n")
    monkeypatch.setattr(web, "create_app", fake_create_app)
    monkeypatch.setenv("SEARCH_WORKERS", "1")
    args = ["--index", str(tmp_path / "index"), "--seeds", str(tmp_path / "seeds"), "serve"]
    result = CliRunner().invoke(main, args)
    assert isinstance(result.exception, Stop), result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert skipped == [
        f"skipped {tmp_path / 'seeds'}/broken\\nskipped fake.md: invalid YAML at line 2, column 14: "
        "mapping values are not allowed in this context"
    ]


def test_an_index_of_no_documents_serves_every_page(tmp_path):
    # every seed file broken: the index has no segments, and Whoosh's reader gives None for them (was a 500)
    from indexer import build
    from web import create_app

    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.md").write_text('---\ntitle: "x \\ud800"\nwebUrl: "https://x.example/a"\n---\n')
    assert build.full_build(tmp_path / "seeds", tmp_path / "index").documents == 0
    client = create_app({"INDEX_DIR": str(tmp_path / "index"), "ACCESS_LOG": False}).test_client()
    for path in ("/", "/?q=police", "/api/search?q=police", "/feed.atom", "/healthz", "/api/suggest?q=po"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/search?q=police").get_json()["total"] == 0


# -- watch mode --------------------------------------------------------------------------------


def test_watch_ignores_the_indexers_own_reads():
    changed = threading.Event()
    handler = _Changes(changed)
    for event in (FileOpenedEvent("/s/broken.md"), FileClosedNoWriteEvent("/s/broken.md")):
        handler.on_any_event(event)  # every update re-reads broken files: this looped forever
    assert not changed.is_set()
    handler.on_any_event(FileModifiedEvent("/s/broken.md"))
    assert changed.is_set()
