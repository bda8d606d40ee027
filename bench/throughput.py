"""Uncached HTTP throughput beside SQLite FTS5 on the same WSGI stack, and a generation swap under load.

    python bench/throughput.py --index /tmp/nb/index20k --seeds /tmp/nb/corpus20k [--workers 2] [--seconds 20]

In one run, over the same index:

1. builds SQLite FTS5 over the same documents (bench.baseline) and serves it with gunicorn with
   this product's settings (bench/fts_server.py, the same worker count): the anchor;
2. serves the index with ``search-cli serve --workers N`` and the answer cache off
   (SEARCH_RESULT_CACHE=0);
3. loads each with wrk (2 threads, 8 connections, a Lua script rotating >= 200 distinct queries
   sampled from stored titles) and reports requests/s, p50/p99, errors, and the summed peak RSS
   (and PSS) of the master and its workers;
4. loads the engine again while ``search-cli index`` applies a one-file change to the seeds, and
   reports how long after ``index`` exits every answer comes from the new generation, and
   whether any request failed. The seed file is restored (and indexed) at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baseline import build_sqlite  # noqa: E402
from bench.query import query_mix  # noqa: E402
from bench.serving import free_port, start_server, wait_until_serving, wrk_rotation  # noqa: E402
from search.engine import SearchEngine  # noqa: E402


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children (gunicorn's master and workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def memory(pid: int) -> tuple[float, float]:
    """(summed peak RSS, summed PSS) in MiB over the process tree: PSS counts a shared page once in total."""
    rss = pss = 0.0
    for p in process_tree(pid):
        rss += int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{p}/status").read_text()).group(1)) / 1024
        pss += int(re.search(r"Pss:\s+(\d+)", Path(f"/proc/{p}/smaps_rollup").read_text()).group(1)) / 1024
    return rss, pss


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def tree_ticks(pid: int) -> int:
    """CPU ticks (user + system) used so far by ``pid`` and its children."""
    ticks = 0
    for p in process_tree(pid):
        after_name = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()  # from field 3 (state) on
        ticks += int(after_name[11]) + int(after_name[12])  # fields 14 and 15: utime, stime
    return ticks


def wrk(port: int, script: list[str], seconds: int, server: int | None = None) -> dict:
    """One wrk run (2 threads, 8 connections): requests/s, latency percentiles, errors.

    With ``server`` (its pid), also the share of the machine's CPU that neither the server nor
    wrk used meanwhile: another session's load on these 2 cores shows up there, not in idle.
    """
    url = f"http://127.0.0.1:{port}/api/search?q=warm"
    busy, total = machine_ticks()
    served = tree_ticks(server) if server else 0
    load = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", *script, url], capture_output=True, text=True
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy2, total2 = machine_ticks()
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    wrk_ticks = (after.ru_utime + after.ru_stime - load.ru_utime - load.ru_stime) * ticks_per_s
    others = (busy2 - busy) - (tree_ticks(server) - served if server else 0) - wrk_ticks

    def ms(label: str) -> float:
        found = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not found:
            return float("nan")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    for found in (non_2xx, socket_errors):
        if found:
            print(f"  port {port}: {found.group(0)}")
    return {
        "others_cpu": max(0.0, others / max(1, total2 - total)) if server else float("nan"),
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def generation_of(port: int) -> str:
    """The generation one request (over a new connection) was answered from."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=swap+check", timeout=5) as response:
        return json.loads(response.read())["generation"]


def swap_under_load(port: int, script: list[str], index: Path, seeds: Path, seconds: int) -> dict:
    """wrk on the engine while `index` applies a one-file change; when every answer is from the new generation."""
    target = sorted(p for p in seeds.rglob("*.md"))[0]
    original = target.read_bytes()
    result: dict = {}
    load = threading.Thread(target=lambda: result.update(wrk(port, script, seconds)))
    load.start()
    time.sleep(seconds / 4)
    target.write_bytes(original.replace(b"title:", b"title: Swapcheck", 1))
    cli = [sys.executable, "-m", "web.cli", "--index", str(index), "--seeds", str(seeds), "index"]
    started = time.monotonic()
    subprocess.run(cli, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    finished = time.monotonic()
    fresh = (index / "CURRENT").read_text().strip()
    consecutive, served_at = 0, None
    while time.monotonic() - finished < 30 and consecutive < 40:  # 40 in a row: every worker has swapped
        if generation_of(port) == fresh:
            consecutive += 1
            served_at = served_at or time.monotonic()
        else:
            consecutive, served_at = 0, None
    load.join()
    target.write_bytes(original)
    subprocess.run(cli, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {
        "index_seconds": round(finished - started, 2),
        "served_after_s": round(served_at - finished, 3) if served_at and consecutive >= 40 else None,
        **result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--seeds", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    engine = SearchEngine(args.index, cache_entries=0)
    documents = int(engine.generation().live.sum())
    queries = list(dict.fromkeys(query_mix(engine, args.queries * 2)))[: args.queries]
    assert len(queries) >= 200, "fewer than 200 distinct queries"
    folder = Path(tempfile.mkdtemp(prefix="throughput-"))
    script = wrk_rotation([f"/api/search?q={q.replace(' ', '+')}" for q in queries], folder)
    db_path = folder / "fts.db"
    build_sqlite(engine, db_path).close()
    del engine
    print(f"{dt.date.today()}: {documents:,} documents, {len(queries)} distinct queries, {args.workers} workers,")
    print(f"wrk -t2 -c8 -d{args.seconds}s --latency, SQLite {sqlite3.sqlite_version}, answer cache off")
    rows = {}
    fts_port = free_port()
    fts_command = [sys.executable, str(ROOT / "bench" / "fts_server.py"), "--db", str(db_path)]
    fts = subprocess.Popen(
        [*fts_command, "--port", str(fts_port), "--workers", str(args.workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ours, port = start_server(args.index, {"SEARCH_RESULT_CACHE": "0", "SEARCH_WORKERS": str(args.workers)})
    try:
        wait_until_serving(fts_port)
        for name, server_port, proc in (("SQLite FTS5", fts_port, fts), ("engine", port, ours)):
            wrk(server_port, script, 3)  # warm up: first reads of every query's pages
            rows[name] = wrk(server_port, script, args.seconds, proc.pid)
            rows[name]["rss_mib"], rows[name]["pss_mib"] = memory(proc.pid)
        swap = swap_under_load(port, script, args.index, args.seeds, args.seconds)
        rows["engine"]["rss_mib"], rows["engine"]["pss_mib"] = memory(ours.pid)
    finally:
        for proc in (fts, ours):
            proc.terminate()
            proc.wait(timeout=20)
    print("errors: non-2xx answers and wrk's socket errors (a request over wrk's 2 s timeout is one)")
    print("others' CPU: the share of the 2 cores used by neither the server nor wrk during the run")
    header = f"{'':14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'peak RSS MiB':>14}{'PSS MiB':>9}"
    print(header + f"{'others CPU':>12}")
    for name, row in rows.items():
        errors = row["errors"] + row["socket_errors"]
        print(
            f"{name:14}{row['requests_per_s']:9.1f}{row['p50_ms']:9.1f}{row['p99_ms']:9.1f}{errors:8d}"
            f"{row['rss_mib']:14.0f}{row['pss_mib']:9.0f}{row['others_cpu']:12.0%}"
        )
    a, b = rows["engine"], rows["SQLite FTS5"]
    ratio = lambda x, y: f"{x / y:.2f}x" if y else "n/a"  # noqa: E731 - FTS5 may answer nothing within wrk's timeout
    print(
        f"engine / FTS5: requests/s {ratio(a['requests_per_s'], b['requests_per_s'])},"
        f" p99 {ratio(a['p99_ms'], b['p99_ms'])}"
    )
    print(
        f"swap under load: index ran {swap['index_seconds']} s; every answer from the new generation"
        f" {swap['served_after_s']} s after it finished; {swap['requests_per_s']:.1f} req/s,"
        f" p99 {swap['p99_ms']:.1f} ms, errors {swap['errors'] + swap['socket_errors']}"
    )


if __name__ == "__main__":
    main()
