"""Updates never disturb readers: crashes leave the old index live, servers keep answering."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from indexer import build, generations, incremental, writer_lock
from search.engine import SearchEngine
from search.request import build_request
from tests.conftest import AI_CORPUS, POWER_APPS, SEEDS, waitress_server
from tests.test_update import apply_update

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "web.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # Ctrl+C as a terminal sends it, even when the suite runs in the background (`cmd &` ignores SIGINT
        # in its children, so the command would never see the signal the watch test sends)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_sigkill_during_a_build_leaves_the_previous_index_usable(tmp_path):
    index, reference = tmp_path / "index", tmp_path / "reference"
    build.full_build(SEEDS, index)
    build.full_build(AI_CORPUS, reference)
    old_total = SearchEngine(index).search(build_request("police"))["total"]
    new_total = SearchEngine(reference).search(build_request("police"))["total"]
    assert old_total != new_total
    killed_mid_build = 0
    for delay in (0.4, 0.8, 1.2, 1.6):
        proc = cli("--index", str(index), "--seeds", str(AI_CORPUS), "index", "--full", "--quiet")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_build += proc.returncode == -signal.SIGKILL
        # whatever moment it died, the live generation is complete: the old index or the new one
        live = generations.current_generation(index)
        assert (live / generations.MANIFEST).is_file()
        total = SearchEngine(index).search(build_request("police"))["total"]
        assert total == (old_total if live.name == "gen-000001" else new_total)
    assert killed_mid_build >= 1
    # the lock died with the process; the next run repairs: builds and removes unfinished generations
    done = cli("--index", str(index), "--seeds", str(AI_CORPUS), "index", "--quiet")
    assert done.wait(timeout=120) == 3, done.stderr.read()  # 3: SOURCE.md is not a seed file
    gens = [p for p in index.glob("gen-*") if p.is_dir()]
    assert all((g / generations.MANIFEST).is_file() for g in gens)
    assert SearchEngine(index).search(build_request("police"))["total"] == new_total


def test_a_second_writer_waits_with_wait(tmp_path):
    index = tmp_path / "index"
    release = threading.Event()

    def hold():
        with writer_lock.writer_lock(index):
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    proc = cli("--index", str(index), "--seeds", str(SEEDS), "index", "--wait", "--quiet")
    time.sleep(1.0)
    assert proc.poll() is None  # still waiting for the lock
    release.set()
    holder.join()
    assert proc.wait(timeout=60) == 0
    assert "53 in index" in proc.stdout.read().decode()


def test_a_server_answers_every_request_while_updates_run_and_then_serves_new_content(tmp_path):
    from web import create_app

    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(POWER_APPS / "base", seeds)
    build.full_build(seeds, index)
    app = create_app({"INDEX_DIR": str(index), "ACCESS_LOG": False, "REFRESH_SECONDS": 0.2})
    server = contextlib.ExitStack()
    base = server.enter_context(waitress_server(app))
    stop = threading.Event()
    failures: list[str] = []
    latencies: list[float] = []

    def hammer(queries):
        while not stop.is_set():
            for q in queries:
                started = time.perf_counter()
                try:
                    with urlopen(f"{base}/api/search?q={q}&filter=kind:article", timeout=10) as response:
                        json.load(response)
                        if response.status != 200:
                            failures.append(f"{q}: {response.status}")
                except (HTTPError, URLError, OSError, ValueError) as exc:
                    failures.append(f"{q}: {exc}")
                latencies.append(time.perf_counter() - started)

    clients = [threading.Thread(target=hammer, args=(qs,)) for qs in (["power+apps", "dataverse"], ["teams", "ai"])]
    for client in clients:
        client.start()
    try:
        for update in sorted((POWER_APPS / "updates").iterdir())[:12]:
            apply_update(seeds, update)
            incremental.update(seeds, index)
    finally:
        time.sleep(0.5)
        stop.set()
        for client in clients:
            client.join()
        server.close()
    assert failures == []
    assert len(latencies) > 50
    latencies.sort()
    assert latencies[int(len(latencies) * 0.99)] < 2.0
    # the newest content is served without a restart
    newest = SearchEngine(index).generation().name
    engine = app.extensions["search_engine"]
    deadline = time.monotonic() + 5
    while engine.generation().name != newest and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.generation().name == newest


@contextlib.contextmanager
def watching(tmp_path: Path):
    """``index --watch`` over a copy of the seeds, its first build done: (seeds, index, how many hold a word)."""
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(SEEDS, seeds)
    proc = cli("--index", str(index), "--seeds", str(seeds), "index", "--watch", "--debounce", "0.3")
    deadline = time.monotonic() + 60

    def found(word: str, until) -> int:
        """How many items hold ``word`` once ``until(count)`` holds, or the deadline passes."""
        count = -1
        while time.monotonic() < deadline and not until(count):
            time.sleep(0.2)
            count = SearchEngine(index).search(build_request(word))["total"]
        return count

    try:
        while not (index / "CURRENT").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # let the observer start
        yield seeds, index, found, proc
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_watch_mode_indexes_new_files_after_a_quiet_moment(tmp_path):
    from tests.test_documents import seed

    with watching(tmp_path) as (seeds, _index, found, _proc):
        (seeds / "2030-01-01-new.md").write_text(seed("Quokka sanctuary opens", "https://example.org/quokka"))
        assert found("quokka", lambda n: n > 0) == 1
        (seeds / "2030-01-01-new.md").unlink()
        assert found("quokka", lambda n: n == 0) == 0


def test_watch_mode_follows_a_seed_folder_replaced_by_a_new_one(tmp_path):
    # a deploy's "mv seeds old; cp -r new seeds" left the observer on the old folder: changes went unseen
    from tests.test_documents import seed

    with watching(tmp_path) as (seeds, _index, found, proc):
        seeds.rename(tmp_path / "old")
        (tmp_path / "old" / "2030-01-01-old.md").write_text(seed("Left behind", "https://example.org/old"))
        time.sleep(1.5)  # an update runs while no folder is at the path: the watch says so and goes on
        assert proc.poll() is None
        shutil.copytree(tmp_path / "old", seeds)
        time.sleep(1.5)  # the new folder is found
        (seeds / "2030-01-01-new.md").write_text(seed("Zebrafish after the swap", "https://example.org/zf"))
        assert found("zebrafish", lambda n: n > 0) == 1


def test_an_update_removes_generations_superseded_past_the_grace_period_before_it_publishes(tmp_path, monkeypatch):
    from tests.test_documents import seed

    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    for i in range(6):
        (seeds / f"{i}.md").write_text(seed(f"Story {i} about clouds", f"https://a.org/{i}"))
    build.full_build(seeds, index)
    monkeypatch.setattr(generations, "GRACE_SECONDS", 0.0)
    on_disk_at_publish: list[list[str]] = []
    publish = generations.publish

    def recording(index_dir, gen, *args, **kwargs):
        on_disk_at_publish.append(sorted(p.name for p in index_dir.glob("gen-*")))
        publish(index_dir, gen, *args, **kwargs)

    monkeypatch.setattr(generations, "publish", recording)
    for round_no in range(1, 6):
        (seeds / "0.md").write_text(seed(f"Story 0 revised {round_no} times", "https://a.org/0"))
        incremental.update(seeds, index)
    names = [f"gen-{n:06d}" for n in range(1, 7)]
    # at each publish: the live generation, the KEEP_OLD before it and the one being written; older ones
    # were swept while the update worked (the last one superseded waits for the next update)
    assert on_disk_at_publish == [names[max(0, k - 3) : k + 1] for k in range(1, 6)]
    assert sorted(p.name for p in index.glob("gen-*")) == names[2:]
    # the sweep never touches a generation being written (no manifest yet), so it may run beside one
    unfinished = index / "gen-000099"
    unfinished.mkdir()
    generations.remove_superseded(index)
    assert unfinished.is_dir() and sorted(p.name for p in index.glob("gen-*")) == [*names[3:], "gen-000099"]


def test_an_updates_sweep_stops_after_the_generation_it_is_removing_when_the_update_publishes(tmp_path, monkeypatch):
    """A backlog of superseded generations is removed over several updates, not all inside one."""
    import threading

    index = tmp_path / "index"
    for number in range(1, 8):  # six finished generations behind the live seventh, all past the grace period
        gen = index / f"{generations.PREFIX}{number:06d}"
        gen.mkdir(parents=True)
        (gen / generations.MANIFEST).write_text("{}")
        os.utime(gen / generations.MANIFEST, (1, 1))
    (index / generations.CURRENT).write_text(f"{generations.PREFIX}000007\n")
    started, release = threading.Event(), threading.Event()
    removed: list[str] = []
    real = shutil.rmtree

    def slow_rmtree(path, *args, **kwargs):
        started.set()
        release.wait(5)  # the update publishes while the sweep removes its first generation
        removed.append(Path(path).name)
        real(path, *args, **kwargs)

    monkeypatch.setattr(generations.shutil, "rmtree", slow_rmtree)
    sweep = generations.sweep_superseded(index)
    assert started.wait(5)
    release.set()
    sweep.join()
    assert removed == [f"{generations.PREFIX}000001"]  # the oldest, whole; the others wait for the next sweep
    generations.remove_superseded(index)  # a full build's publish removes every one past the grace period
    assert sorted(p.name for p in index.glob(generations.PREFIX + "*")) == [
        f"{generations.PREFIX}{n:06d}" for n in (5, 6, 7)
    ]


def test_a_server_needs_only_the_manifest_not_the_per_file_table_an_update_reads(tmp_path):
    """A damaged files.bin (only updates read it) costs the next update a full build, never a search answer."""
    from web import create_app

    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(SEEDS, seeds)
    build.full_build(seeds, index)
    gen = generations.current_generation(index)
    files = gen / generations.FILES
    files.write_bytes(files.read_bytes()[:-5])
    with waitress_server(create_app({"INDEX_DIR": str(index), "ACCESS_LOG": False})) as base:
        with urlopen(f"{base}/api/search?q=microsoft", timeout=10) as response:
            assert response.status == 200 and json.load(response)["total"] > 0
            assert response.headers["ETag"]
        with urlopen(f"{base}/feed.atom?q=microsoft", timeout=10) as response:
            assert response.status == 200 and b"<entry>" in response.read()
    assert SearchEngine(index).stats()["files"] == len(list(seeds.iterdir()))
    assert "full" in incremental.update(seeds, index).summary()  # the table is unreadable: rebuilt whole
