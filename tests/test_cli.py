"""search-cli as a user runs it: the installed console script, real exit codes and streams."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BROKEN, SEEDS

CLI = [sys.executable, "-m", "web.cli"]
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120)


@pytest.fixture()
def seeds_with_broken_file(tmp_path) -> Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    broken = next(p for p in BROKEN.glob("*.md") if p.name != "README.md")
    shutil.copy(broken, folder / broken.name)
    return folder


def test_index_query_and_stats_with_environment_defaults(tmp_path):
    env = {"SEARCH_INDEX": str(tmp_path / "ix"), "SEARCH_SEEDS": str(SEEDS)}
    built = run("index", env=env)
    assert built.returncode == 0, built.stderr
    assert "53 in index" in built.stdout and "5 files read" in built.stdout

    out = run("query", "facial", "recognition", "police", "--limit", "3", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # three words: the items holding every word come first, the others follow (ranking.all_words_first)
    assert re.fullmatch(r"\d+ with every word, then \d+ with some of them\.", lines[0])
    assert re.fullmatch(r"\d+ results in \d+ stories, showing 1-3", lines[1])
    assert lines[3].startswith("  1. ") and "police" in lines[3].lower()
    assert " · 2020-06-" in lines[4]  # provider · date · kind
    assert any(line.startswith("provider: ") for line in lines)
    assert any(line.startswith("       + ") for line in lines) and "more in this story" in out.stdout
    flat = run("query", "facial", "recognition", "police", "--limit", "3", "--no-group", env=env).stdout
    assert re.search(r"^\d+ results, showing 1-3$", flat, re.M) and "       + " not in flat
    assert any(line.startswith("topics: AI (") for line in lines)
    assert any(re.fullmatch(r"coverage by (week|month|year): .+ \d{4}", line) for line in lines)

    stats = json.loads(run("stats", "--json", env=env).stdout)
    assert stats["documents"] == 53 and stats["files"] == 5

    again = run("index", env=env)
    assert again.returncode == 0 and again.stdout.startswith("index up to date: 53 documents")


def test_json_output_has_the_documented_shape(tmp_path):
    ix = str(tmp_path / "ix")
    assert run("--index", ix, "--seeds", str(SEEDS), "index").returncode == 0
    out = run("--index", ix, "query", "--json", "police", "--filter", "kind=related")
    result = json.loads(out.stdout)
    assert set(result) >= {"query", "total", "page", "hits", "facets", "suggestion"}
    assert set(result["facets"]) >= {"topics", "provider", "year", "kind"}
    hit = result["hits"][0]
    assert set(hit) >= {"url", "title", "excerpt", "provider", "published", "quality", "kind", "topics", "score"}
    assert {e["value"] for e in result["facets"]["kind"]} == {"article", "related"}
    assert all(h["kind"] == "related" for h in result["hits"])


def test_a_progress_bar_with_rate_and_time_left_when_asked(tmp_path):
    quiet = run("--index", str(tmp_path / "ix"), "--seeds", str(SEEDS), "index", "--full")
    assert quiet.returncode == 0 and "file/s" not in quiet.stderr  # stderr is no terminal here
    shown = run("--index", str(tmp_path / "ix"), "--seeds", str(SEEDS), "index", "--full", "--progress")
    assert shown.returncode == 0, shown.stderr
    assert "indexing" in shown.stderr and "file/s" in shown.stderr  # the rate
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", shown.stderr)  # time spent < time left
    asked_but_quiet = run("--index", str(tmp_path / "ix"), "--seeds", str(SEEDS), "index", "--full", "--progress", "-q")
    assert "file/s" not in asked_but_quiet.stderr


def test_an_empty_seed_folder_builds_an_empty_index_that_answers_and_then_grows(tmp_path):
    # Whoosh's reader of an index with no documents has no columns: deriving arrays from it crashed
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    env = {"SEARCH_INDEX": str(tmp_path / "ix"), "SEARCH_SEEDS": str(seeds)}
    built = run("index", env=env)
    assert built.returncode == 0, built.stderr
    assert "0 in index" in built.stdout
    out = run("query", "police", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "No results for 'police'."
    assert json.loads(run("stats", "--json", env=env).stdout)["documents"] == 0
    shutil.copy(next(SEEDS.glob("*.txt")), seeds)
    grown = run("index", env=env)
    assert grown.returncode == 0, grown.stderr
    assert json.loads(run("stats", "--json", env=env).stdout)["documents"] > 0


def test_an_update_from_a_seed_folder_emptied_or_not_mounted_keeps_the_index(tmp_path):
    # a mistyped path or a mount that is not there emptied the index, with exit 0
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    env = {"SEARCH_INDEX": str(tmp_path / "ix"), "SEARCH_SEEDS": str(seeds)}
    assert run("index", env=env).returncode == 0
    before = json.loads(run("stats", "--json", env=env).stdout)["documents"]
    assert before > 0
    (tmp_path / "away").mkdir()
    for path in seeds.iterdir():
        path.rename(tmp_path / "away" / path.name)
    out = run("index", env=env)
    assert out.returncode == 1
    assert f"error: {seeds} holds no seed files: is it the right folder, and mounted?" in out.stderr
    assert f"The index keeps its {before:,} documents" in out.stderr
    assert json.loads(run("stats", "--json", env=env).stdout)["documents"] == before
    emptied = run("index", "--full", env=env)  # asked for: the folder as it is
    assert emptied.returncode == 0 and json.loads(run("stats", "--json", env=env).stdout)["documents"] == 0


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["serve", "--port", "70000"], {}, "70000 is not in the range 1<=x<=65535"),
        (["serve", "--threads", "0"], {}, "0 is not in the range x>=1"),
        (["serve"], {"SEARCH_THREADS": "0"}, "0 is not in the range x>=1"),
        (["serve"], {"SEARCH_ANALYTICS_MAX_MB": "nan"}, "nan is not a finite number"),
        (["serve"], {"SEARCH_EVENTS_PER_MINUTE": "abc"}, "SEARCH_EVENTS_PER_MINUTE) must be a positive number"),
        (["serve"], {"SEARCH_EVENTS_BURST": "-3"}, "SEARCH_EVENTS_BURST"),
        (["index", "--full"], {"SEARCH_BUILD_WRITER": "junk"}, "SEARCH_BUILD_WRITER must be 'bulk' or 'document'"),
        (["serve"], {"SEARCH_EXPLAIN": "junk"}, "SEARCH_EXPLAIN must be on or off, got 'junk'"),
        (["serve"], {"SEARCH_RESULT_CACHE": "abc"}, "SEARCH_RESULT_CACHE must be a whole number"),
        (["serve", "--workers", "100000"], {}, "100000 is not in the range 1<=x<="),  # forked till the machine stalled
        (["serve"], {"SEARCH_ANALYTICS_MAX_MB": "1e308"}, "1e+308 is not in the range 0<x<=1000000"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2_before_anything_is_served_or_read(tmp_path, args, env, says):
    # they were tracebacks in each worker after "serving ...", a port wrapped round to 4464, a server whose
    # every request hung (0 threads), or a traceback from the build
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    env = {"SEARCH_INDEX": str(tmp_path / "ix"), "SEARCH_SEEDS": str(seeds), "SEARCH_WORKERS": "1", **env}
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **env}
    out = subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, timeout=30)
    assert out.returncode == 2, out.stderr
    assert says in out.stderr and "Traceback" not in out.stderr
    assert "serving" not in out.stderr and not (tmp_path / "ix").exists()


@pytest.mark.parametrize("workers", ["1", "2"])  # waitress, gunicorn
@pytest.mark.parametrize("host", ["127.0.0.1", "999.1.1.1"])
def test_a_port_in_use_or_an_address_not_this_machines_is_one_error_line_not_serving(
    tmp_path, seeds_index, host, workers
):
    # waitress printed "serving ... on" and then a traceback (Address already in use; getaddrinfo)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"SEARCH_WORKERS": workers}
        out = run("--index", str(seeds_index), "serve", "--host", host, "--port", str(port), "--no-analytics", env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "serving" not in out.stderr
    assert f"error: cannot listen on {host}:{port}: " in out.stderr


def test_a_damaged_analytics_file_and_an_export_folder_that_cannot_be_made_are_errors_not_tracebacks(
    tmp_path, seeds_index
):
    index = tmp_path / "ix"
    shutil.copytree(seeds_index, index)
    for sidecar in index.glob("analytics.sqlite3*"):  # what other tests recorded, and its write-ahead log
        sidecar.unlink()
    (index / "analytics.sqlite3").write_bytes(os.urandom(5000))
    out = run("--index", str(index), "analytics")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"error: {index / 'analytics.sqlite3'} cannot be read (file is not a database)" in out.stderr
    assert "move it aside and the server starts a new one" in out.stderr
    (tmp_path / "afile").write_text("x")
    out = run("--index", str(index), "export", str(tmp_path / "afile" / "x"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"error: cannot write {tmp_path / 'afile' / 'x'}: Not a directory" in out.stderr


def test_a_watch_started_on_a_seed_folder_that_is_not_there_is_one_error_line(tmp_path):
    # a watch goes on when its folder goes away meanwhile; started without one it had printed the error,
    # then "watching" and a traceback from the observer (the review)
    out = run("--seeds", str(tmp_path / "nope"), "--index", str(tmp_path / "ix"), "index", "--watch")
    assert out.returncode == 1 and "Traceback" not in out.stderr and "watching" not in out.stderr
    assert f"error: seed folder {tmp_path / 'nope'} does not exist" in out.stderr


def test_broken_file_exits_3_names_it_and_indexes_everything_else(tmp_path, seeds_with_broken_file):
    ix = str(tmp_path / "ix")
    out = run("--index", ix, "--seeds", str(seeds_with_broken_file), "index")
    assert out.returncode == 3
    assert "skipped " in out.stderr and "2020-12-01-project-innereye" in out.stderr
    assert "invalid YAML at line 6" in out.stderr or "front matter is not closed" in out.stderr
    assert "53 in index" in out.stdout
    found = json.loads(run("--index", ix, "query", "--json", "Lezard").stdout)
    assert found["total"] == 1


def test_missing_index_and_bad_parameters_are_clear_errors(tmp_path):
    missing = run("--index", str(tmp_path / "nope"), "query", "police")
    assert missing.returncode == 1
    assert "no index at" in missing.stderr and "search-cli index" in missing.stderr
    bad = run("--index", str(tmp_path / "nope"), "query", "police", "--limit", "0")
    assert bad.returncode == 2 and "'limit' must be between 1 and 100" in bad.stderr
    no_seeds = run("--index", str(tmp_path / "ix"), "--seeds", str(tmp_path / "none"), "index")
    assert no_seeds.returncode == 1 and "does not exist" in no_seeds.stderr


def test_arguments_that_are_not_utf8_get_an_answer_or_an_error_never_a_traceback(seeds_index):
    # what a Latin-1 terminal sends for "policé": each of these was a UnicodeEncodeError traceback
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}

    def call(*args: bytes) -> tuple[int, str, str]:
        done = subprocess.run([*CLI, "--index", str(seeds_index), *args], capture_output=True, env=env, timeout=60)
        return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # strict: no raw byte

    code, out, err = call(b"query", b"polic\xe9")
    assert code == 0 and "Traceback" not in err and re.search(r"^\d+ results", out), err
    code, out, err = call(b"query", b"--filter", b"provider=\xff", b"police")
    assert code == 0 and "Traceback" not in err and "No results for 'police'" in out
    code, out, err = call(b"similar", b"http://\xff")
    assert code == 1 and err == "error: http://\\xff is not in the index\n"


def test_a_second_writer_is_told_who_holds_the_lock(tmp_path):
    from indexer.writer_lock import writer_lock

    ix = tmp_path / "ix"
    with writer_lock(ix):
        out = run("--index", str(ix), "--seeds", str(SEEDS), "index")
    assert out.returncode == 1
    assert f"an index update is already running (process {os.getpid()})" in out.stderr
    assert "--wait" in out.stderr


def test_the_query_commands_sorts_are_the_requests_sorts():
    """web/cli.py keeps its own copy so --help imports nothing heavy: it must not drift."""
    from search.request import SORTS
    from web.cli import SORTS as CLI_SORTS

    assert CLI_SORTS == SORTS


def test_the_program_leaves_an_updates_garbage_to_its_exit_and_a_full_build_or_a_called_command_keeps_the_collector(
    tmp_path,
):
    """The cyclic garbage of a one-shot update dies with the process (collecting it cost an update ~5%)."""
    import gc

    from click.testing import CliRunner

    from web.cli import main

    ix = tmp_path / "ix"
    result = CliRunner().invoke(main, ["--index", str(ix), "--seeds", str(SEEDS), "index", "-q"])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()  # a command called in this process (as tests do) leaves the collector as it was

    def program(*args: str, index=ix) -> str:
        script = (
            "import gc, sys\n"
            "from indexer import build, incremental\n"
            "for module, name in ((incremental, 'update'), (build, 'full_build'), (incremental, 'full_build')):\n"
            "    real = getattr(module, name)\n"
            "    setattr(module, name, lambda *a, _real=real, _name=name, **k: "
            "(print('collector on:', _name, gc.isenabled()), _real(*a, **k))[1])\n"
            f"sys.argv = ['search-cli', '--index', {str(index)!r}, '--seeds', {str(SEEDS)!r},"
            f" 'index', '-q', *{args!r}]\n"
            "from web.cli import run\n"
            "run()\n"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def calls(out: str) -> list[str]:
        return [line.removeprefix("collector on: ") for line in out.splitlines() if line.startswith("collector on:")]

    assert calls(program()) == ["update False"]  # an update of the built index
    assert calls(program("--full")) == ["full_build True"]
    # an update that finds no index builds it in full, with the collector on too
    assert calls(program(index=tmp_path / "new")) == ["update False", "full_build True"]


def test_a_one_shot_update_skips_the_interpreters_teardown_but_not_its_report_or_exit_code(
    tmp_path, seeds_with_broken_file
):
    """The program ends an update with os._exit once the report is out (teardown cost ~0.05-0.1 s at 100k)."""
    ix = tmp_path / "ix"

    def program(*args: str) -> subprocess.CompletedProcess:
        script = (
            "import atexit, sys\n"
            "atexit.register(lambda: print('teardown ran'))\n"
            f"sys.argv = ['search-cli', '--index', {str(ix)!r}, '--seeds', {str(seeds_with_broken_file)!r},"
            f" 'index', '-q', *{args!r}]\n"
            "from web.cli import run\n"
            "run()\n"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)

    full = program("--full")
    assert full.returncode == 3 and "teardown ran" in full.stdout  # a full build exits as usual
    skipped = program()  # the broken file is still there: said on stderr, exit 3
    assert skipped.returncode == 3 and "skipped " in skipped.stderr and "teardown ran" not in skipped.stdout
    for broken in BROKEN.glob("*.md"):
        (seeds_with_broken_file / broken.name).unlink(missing_ok=True)
    update = program()
    assert update.returncode == 0, update.stderr
    assert "teardown ran" not in update.stdout
    assert "in index" in update.stdout  # the report, flushed before the exit
    found = json.loads(run("--index", str(ix), "query", "--json", "Lezard").stdout)
    assert found["total"] == 1


# What a query of plain words must not load: each is start-up time every `search-cli query` paid
# (docs/benchmarks.md, "CLI start-up, fifth pass"); a later import at module level brings it back.
NOT_FOR_A_QUERY = (
    "numpy.ma",
    "indexer.derive",
    "indexer.carry",
    "indexer.stories",
    "indexer.replaced",
    "indexer.events",
    "indexer.event_links",
    "whoosh.qparser",
    "whoosh.query",
    "whoosh.searching",
)


def test_a_query_of_words_loads_only_what_it_needs(seeds_index):
    script = (
        "import sys\n"
        "from web.cli import main\n"
        f"for args in ({['facial', 'recognition', 'police']!r}, {['--json', 'police', '--sort', 'newest']!r},"
        f" {['police', '--filter', 'date=2020-06-01..2020-06-30']!r}):\n"
        f"    main(['--index', {str(seeds_index)!r}, 'query', *args], standalone_mode=False)\n"
        "from search import background\n"
        "print('word table built:', background._zipf_table.cache_info().currsize)\n"
        "print('loaded:', *sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "more in this story" in out.stdout  # story cards were made (where numpy's unique loaded numpy.ma)
    assert "word table built: 0" in out.stdout  # its few words were scanned for in the word list
    loaded = out.stdout.rsplit("loaded:", 1)[1].split()
    unwanted = [m for m in loaded if any(m == name or m.startswith(name + ".") for name in NOT_FOR_A_QUERY)]
    assert unwanted == []


def test_the_server_loads_the_query_parser_at_start_not_on_its_first_query_with_syntax(seeds_index):
    script = (
        "import sys\n"
        "from web.app import create_app\n"
        f"create_app({{'INDEX_DIR': {str(seeds_index)!r}, 'ACCESS_LOG': False, 'ANALYTICS': False}})\n"
        "print(*(m in sys.modules for m in ('whoosh.qparser.dateparse', 'whoosh.query', 'whoosh.searching')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]


def test_a_page_of_only_partial_matches_says_none_has_every_word_in_the_terminal(tmp_path):
    env = {"SEARCH_INDEX": str(tmp_path / "ix"), "SEARCH_SEEDS": str(SEEDS)}
    assert run("index", env=env).returncode == 0
    out = run("query", "facial", "recognition", "police", "--filter", "year=2021", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "None with every word; these have some of them."


def test_a_result_lacking_a_searched_word_names_it_in_the_terminal(tmp_path):
    env = {"SEARCH_INDEX": str(tmp_path / "ix"), "SEARCH_SEEDS": str(SEEDS)}
    assert run("index", env=env).returncode == 0
    out = run("query", "facial", "recognition", "police", "--limit", "50", "--no-group", env=env)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^     .* · missing: police$", out.stdout, re.M)
