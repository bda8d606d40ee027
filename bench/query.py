"""Query latency side by side with SQLite FTS5, and HTTP throughput (run on demand, not in CI).

    python bench/query.py --index /tmp/news-bench/index20k [--queries 200] [--http] [--wrk-seconds 20]

Builds the index with bench/update.py first if needed. For a fixed mix of realistic 1-3 word
queries (word runs sampled from stored titles, seed 1) it times, in the same run:

* this engine through ``SearchEngine.search`` -- the code path of /api/search: top 10 with
  highlights and facet counts for topics, provider, year and kind;
* SQLite FTS5 over the same documents: bm25 with title weighted 2x, ``highlight()`` for the
  shown hits, facet counts by GROUP BY over the matches;

and with --http serves the index with ``search-cli serve`` and loads it with wrk (8
connections), reporting requests/s, p99, errors and the server's peak memory.

With --keystrokes it times what search-as-you-type sends instead: every prefix of 40 of those
queries as typed one key at a time (the last word completed as a prefix), and each with one
word misspelt (two letters swapped: typo tolerance), beside SQLite FTS5 answering the same
keystrokes as prefix queries (``"w1" "w2"*``) with the same facet counts.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baseline import build_sqlite, sqlite_search  # noqa: E402
from bench.serving import start_server, wrk_rotation  # noqa: E402
from indexer.analysis import analyze  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.request import build_request  # noqa: E402

WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def query_mix(engine: SearchEngine, count: int, seed: int = 1) -> list[str]:
    """Realistic queries: runs of 1-3 content words from stored titles."""
    gen = engine.generation()
    rng = random.Random(seed)
    queries: list[str] = []
    while len(queries) < count:
        title = gen.stored(rng.randrange(gen.doc_count)).get("title", "")
        words = [w for w in WORD.findall(title) if analyze(w)]
        if not words:
            continue
        size = rng.choice((1, 1, 2, 2, 2, 3))
        start = rng.randrange(max(1, len(words) - size + 1))
        queries.append(" ".join(words[start : start + size]).lower())
    return queries


def keystroke_mix(queries: list[str], count: int = 40, seed: int = 2) -> tuple[list[str], list[str]]:
    """(every prefix of ``count`` queries as typed, the same queries with one word misspelt)."""
    rng = random.Random(seed)
    chosen = queries[:count]
    typed = [q[:i] for q in chosen for i in range(1, len(q) + 1) if not q[:i].endswith(" ")]
    misspelt = []
    for q in chosen:
        words = q.split()
        long = [i for i, w in enumerate(words) if len(w) >= 5]
        if long:
            i = rng.choice(long)
            j = rng.randrange(1, len(words[i]) - 2)
            w = words[i]
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        misspelt.append(" ".join(words))
    return typed, misspelt


def sqlite_prefix(db: sqlite3.Connection, text: str) -> None:
    """The FTS5 anchor for a keystroke: earlier words whole, the last as a prefix; same work as sqlite_search."""
    words = [w.replace('"', "") for w in text.split()]
    if not words:
        return
    match = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
    sqlite_search(db, match, raw=True)


def timed(fn, queries: list[str]) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
    return times


def http_load(index: Path, query: str, seconds: int, *, cache: bool, mix: list[str] | None = None) -> None:
    server, port = start_server(index, {"SEARCH_RESULT_CACHE": "1024" if cache else "0"})
    try:
        url = f"http://127.0.0.1:{port}/api/search?q={query.replace(' ', '+')}"
        script: list[str] = []
        if mix:  # rotate through the query mix: every request a different query
            script = wrk_rotation([f"/api/search?q={q.replace(' ', '+')}" for q in mix], Path(tempfile.mkdtemp()))
        subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=False)  # first answer, then the load
        subprocess.run(["wrk", "-t2", "-c8", "-d2s", *script, url], capture_output=True)  # warm up
        out = subprocess.run(
            ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", *script, url], capture_output=True, text=True
        )
        text = out.stdout
        rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
        p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        socket_errors = re.search(r"Socket errors: (.*)", text)
        status = Path(f"/proc/{server.pid}/status").read_text()
        peak = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
        what = f"{len(mix)}-query mix in rotation" if mix else f"/api/search?q={query}"
        print(f"HTTP {what}, answer cache {'on' if cache else 'off'} (wrk, 2 threads, 8 connections, {seconds}s):")
        print(f"  requests/s {rps.group(1) if rps else '?'}; p99 {p99.group(1) + p99.group(2) if p99 else '?'}")
        non_2xx = errors.group(1) if errors else 0
        print(f"  non-2xx {non_2xx}; socket errors {socket_errors.group(1) if socket_errors else 'none'}")
        print(f"  server peak RSS {peak:.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("/tmp/news-bench/index20k"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--http", action="store_true", help="also load the HTTP server with wrk")
    parser.add_argument("--http-query", default="facial recognition")
    parser.add_argument("--wrk-seconds", type=int, default=20)
    parser.add_argument("--keystrokes", action="store_true", help="time search-as-you-type (prefix, typo)")
    args = parser.parse_args()
    if not (args.index / "CURRENT").exists():
        sys.exit(f"no index at {args.index}: build it first (python bench/update.py --index {args.index})")

    started = time.perf_counter()
    engine = SearchEngine(args.index, cache_entries=0)  # measure the engine, not the answer cache
    gen = engine.generation()
    print(f"index: {int(gen.live.sum()):,} documents; opened in {time.perf_counter() - started:.2f}s")
    queries = query_mix(engine, args.queries)
    print(f"{len(queries)} queries, e.g. {queries[:6]}")

    def ours(q: str) -> None:
        engine.search(build_request(q))

    if args.keystrokes:
        keystrokes(engine, queries)
        return
    cold = timed(ours, queries)
    warm = timed(ours, queries)

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        db = build_sqlite(engine, Path(tmp) / "fts.db")
        print(f"SQLite FTS5 baseline built in {time.perf_counter() - started:.1f}s (SQLite {sqlite3.sqlite_version})")
        sqlite_cold = timed(lambda q: sqlite_search(db, q), queries)
        sqlite_warm = timed(lambda q: sqlite_search(db, q), queries)
        db.close()

    print()
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name, values in (
        ("engine, first pass", cold),
        ("engine, second pass", warm),
        ("SQLite FTS5, first pass", sqlite_cold),
        ("SQLite FTS5, second pass", sqlite_warm),
    ):
        print(f"{name:28}{percentile(values, 50):10.1f}{percentile(values, 95):10.1f}{statistics.mean(values):10.1f}")
    print(
        f"ratio engine/SQLite (second pass): p50 {percentile(warm, 50) / percentile(sqlite_warm, 50):.2f}x,"
        f" p95 {percentile(warm, 95) / percentile(sqlite_warm, 95):.2f}x"
    )
    print(
        f"ratio engine/SQLite (first pass):  p50 {percentile(cold, 50) / percentile(sqlite_cold, 50):.2f}x,"
        f" p95 {percentile(cold, 95) / percentile(sqlite_cold, 95):.2f}x"
    )
    if args.http:
        for cache, mix in ((True, None), (False, None), (False, queries)):
            print()
            http_load(args.index, args.http_query, args.wrk_seconds, cache=cache, mix=mix)


def keystrokes(engine: SearchEngine, queries: list[str]) -> None:
    """Per-keystroke latency: prefixes as typed and misspelt queries, beside FTS5 prefix queries."""
    typed, misspelt = keystroke_mix(queries)
    print(f"{len(typed)} keystrokes (e.g. {typed[:5]}), {len(misspelt)} misspelt queries (e.g. {misspelt[:3]})")
    ours = timed(lambda q: engine.search(build_request(q)), typed)
    ours_typos = timed(lambda q: engine.search(build_request(q)), misspelt)
    ours_warm = timed(lambda q: engine.search(build_request(q)), typed)  # answer cache off: recomputed
    with tempfile.TemporaryDirectory() as tmp:
        db = build_sqlite(engine, Path(tmp) / "fts.db")
        theirs = timed(lambda q: sqlite_prefix(db, q), typed)
        theirs_warm = timed(lambda q: sqlite_prefix(db, q), typed)
        db.close()
    print(f"{'':44}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in (
        ("engine, keystrokes, first pass", ours),
        ("engine, keystrokes, second pass", ours_warm),
        ("engine, misspelt (typo tolerance)", ours_typos),
        ("SQLite FTS5, keystrokes (w1 w2*), first", theirs),
        ("SQLite FTS5, keystrokes (w1 w2*), second", theirs_warm),
    ):
        print(f"{name:44}{percentile(values, 50):10.1f}{percentile(values, 95):10.1f}{max(values):10.1f}")
    for name, a, b in (("first pass", ours, theirs), ("second pass", ours_warm, theirs_warm)):
        ratio_50, ratio_95 = percentile(a, 50) / percentile(b, 50), percentile(a, 95) / percentile(b, 95)
        print(f"ratio engine/FTS5 on keystrokes, {name}: p50 {ratio_50:.2f}x, p95 {ratio_95:.2f}x")


if __name__ == "__main__":
    main()
