"""``serve --workers N`` (gunicorn): workers share the mapped generation, die and come back, follow updates."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from indexer import build, generations, incremental, persisted
from search.query import MAX_QUERY_CHARS
from tests.conftest import ROOT, SEEDS
from tests.test_web_hardening import fetch, raw_exchange, wait_for
from web import SECURITY_HEADERS
from web import prefork as prefork_module

WORKERS = 2


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (gunicorn's workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return sorted(found)


def mapped_derived(pid: int) -> set[tuple[str, int]]:
    """(generation, inode) of every derived array file the process has mapped."""
    found = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and f"/{persisted.DIRECTORY}/" in parts[5] and parts[5].endswith(".npy"):
            path = Path(parts[5])
            found.add((path.parent.parent.name, int(parts[4])))
    return found


def generations_mapped(pid: int) -> set[str]:
    return {gen for gen, _ in mapped_derived(pid)}


@pytest.fixture()
def prefork(tmp_path) -> Iterator[tuple[subprocess.Popen, int, Path, Path]]:
    """``search-cli serve --workers 2`` over a copy of the seeds: (master, port, seeds, index)."""
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(SEEDS, seeds)
    build.full_build(seeds, index)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "server.log").open("wb")
    command = [sys.executable, "-m", "web.cli", "--index", str(index), "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", str(WORKERS), "--no-analytics", "--no-access-log"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=log,
    )
    try:
        ready = wait_for(lambda: len(children(proc.pid)) == WORKERS and fetch(port, "/healthz")[0] == 200, 30)
        assert ready, (tmp_path / "server.log").read_text()
        yield proc, port, seeds, index
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def test_workers_map_the_same_generation_files(prefork):
    proc, _, _, index = prefork
    live = generations.current_generation(index)
    expected = {(live.name, p.stat().st_ino) for p in persisted.files(live)}
    assert len(expected) > 20
    workers = children(proc.pid)
    shared = wait_for(lambda: all(mapped_derived(w) == expected for w in workers), 10)
    assert shared, [mapped_derived(w) for w in workers]


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(prefork):
    proc, port, _, _ = prefork
    victim = children(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: victim not in children(proc.pid) and len(children(proc.pid)) == WORKERS, 20)
    replacement = next(w for w in children(proc.pid) if w != victim)
    assert wait_for(lambda: generations_mapped(replacement), 10)  # it opened the generation
    assert all(fetch(port, "/api/search?q=police")[0] == 200 for _ in range(10))


def test_a_new_generation_reaches_every_worker(prefork):
    proc, port, seeds, index = prefork
    old = generations.current_generation(index).name
    first = sorted(seeds.iterdir())[0]
    first.write_text(first.read_text().replace("title:", "title: Zanzibarian", 1))
    incremental.update(seeds, index)
    new = generations.current_generation(index).name
    assert new != old
    workers = children(proc.pid)
    assert wait_for(lambda: all(new in generations_mapped(w) for w in workers), 10)
    # and each worker lets go of the old one (no generation stays mapped for the life of a worker)
    assert wait_for(lambda: all(generations_mapped(w) == {new} for w in workers), 10)

    def answered_from_new() -> bool:
        answers = [fetch(port, "/api/search?q=zanzibarian") for _ in range(10)]
        return all(
            s == 200 and json.loads(b)["generation"] == new and json.loads(b)["total"] >= 1 for s, _, b in answers
        )

    assert wait_for(answered_from_new, 10)


def test_a_keepalive_connection_is_closed_after_keepalive_requests_answers(prefork):
    """So a client's connections spread over the workers again instead of staying on the one that took them."""
    _, port, _, _ = prefork
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    said = []
    for _ in range(prefork_module.KEEPALIVE_REQUESTS):
        conn.request("GET", "/api/search?q=police")
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
        said.append(answer.getheader("Connection", "").lower())
        peer = conn.sock
    assert said[:-1] == ["keep-alive"] * (len(said) - 1)
    assert said[-1] == "close"
    assert peer is None  # http.client closed its side on "Connection: close"...
    conn.close()
    conn.request("GET", "/api/search?q=police")  # ...and the next request opens a new connection
    assert conn.getresponse().status == 200


def test_gunicorn_own_error_replies_carry_the_security_headers(prefork):
    _, port, _, _ = prefork
    expected = {name.lower(): value for name, value in SECURITY_HEADERS.items()} | {"cache-control": "no-store"}
    status, headers, body = raw_exchange(port, b"NOT A REQUEST LINE\r\n\r\n")
    assert status == 400 and b"Invalid Request Line" in body  # gunicorn answered, not the app
    assert {k: headers.get(k) for k in expected} == expected
    too_long = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"  # over gunicorn's limit_request_line
    status, headers, _ = raw_exchange(port, too_long)
    assert status == 414 and {k: headers.get(k) for k in expected} == expected


def test_a_query_in_cyrillic_up_to_the_query_limit_is_answered_not_refused_by_gunicorn(prefork):
    # 6 bytes a character once percent-encoded (9 in Chinese): gunicorn's default request line of 4,094
    # bytes refused 700 characters with an HTML 414; its largest, 8,190, takes a whole query in Cyrillic
    _, port, _, _ = prefork
    for text in (("Полиция использует распознавание лиц " * 30)[:MAX_QUERY_CHARS], "警察使用面部识别技术" * 88):
        status, headers, body = fetch(port, "/api/search?" + urlencode({"q": text}))
        assert status == 200 and headers["content-type"].startswith("application/json"), body[:200]
        assert json.loads(body)["query"] == text.strip()


def test_the_command_line_answers_from_the_mapped_files_as_the_server_does(prefork):
    _, port, _, index = prefork
    from web.cli import _open_engine

    assert _open_engine(index).generation().mapped  # what `query` opens: the build's files, not recomputed
    for args, query in (
        (["police"], "q=police"),
        (
            ["--no-group", "--limit", "5", "--sort", "newest", "facial", "recognit"],
            "q=facial+recognit&group=0&limit=5&sort=newest",
        ),
        (["--filter", "kind=article", "microsoft"], "q=microsoft&filter=kind:article"),
    ):
        cli = subprocess.run(
            [sys.executable, "-m", "web.cli", "--index", str(index), "query", "--json", *args],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        status, _, body = fetch(port, f"/api/search?{query}")
        served, printed = json.loads(body), json.loads(cli.stdout)
        assert status == 200 and served["total"] > 0
        served.pop("took_ms"), printed.pop("took_ms")
        assert printed == served


def test_workers_come_from_the_flag_else_search_workers_else_the_cpus(monkeypatch, seeds_index):
    from click.testing import CliRunner

    import web.prefork
    from web.cli import main

    seen: list[int] = []
    monkeypatch.setattr(web.prefork, "serve", lambda config, **kw: seen.append(kw["workers"]))
    monkeypatch.delenv("SEARCH_WORKERS", raising=False)
    for env, args, expected in (
        ({}, [], os.cpu_count() or 1),
        ({"SEARCH_WORKERS": "3"}, [], 3),
        ({"SEARCH_WORKERS": "3"}, ["--workers", "5"], 5),
    ):
        if (os.cpu_count() or 1) == 1 and expected == 1:
            continue  # one CPU: waitress serves, gunicorn is not started
        result = CliRunner().invoke(main, ["--index", str(seeds_index), "serve", *args], env=env)
        assert result.exit_code == 0, result.output
        assert seen.pop() == expected


@pytest.mark.parametrize("one_at_a_time", [True, False], ids=["worker app", "bare app (control)"])
def test_a_worker_computes_one_answer_at_a_time_while_its_threads_serve(seeds_index, monkeypatch, one_at_a_time):
    import threading
    import time

    from werkzeug.test import Client

    from web import create_app, prefork

    config = {"INDEX_DIR": str(seeds_index), "ANALYTICS": False, "ACCESS_LOG": False, "RESULT_CACHE": 0}
    if one_at_a_time:  # the app a gunicorn worker serves (search_app), not a hand-wrapped one
        monkeypatch.setattr(prefork, "follow_generations", lambda engine, seconds: None)
        wsgi = prefork.search_app(config)
        app = wsgi.app
    else:
        wsgi = app = create_app(config)
    engine = app.extensions["search_engine"]
    running, most, lock = [0], [0], threading.Lock()
    search = engine.search

    def slow_search(request):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # a search in progress: another thread would start one now if it could
        try:
            return search(request)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(engine, "search", slow_search)
    statuses: list[int] = []

    def ask(q: str) -> None:
        statuses.append(Client(wsgi).get(f"/api/search?q={q}").status_code)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("police", "court", "privacy", "facial")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert (most[0] == 1) == one_at_a_time, most[0]
