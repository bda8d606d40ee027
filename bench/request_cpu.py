"""CPU time per uncached /api/search request, in one process: the development metric of serving work.

    PYTHONPATH=. python bench/request_cpu.py --index /tmp/nb/index20k [--queries 250] [--rounds 3]
        [--path /api/search] [--profile out.prof] [--plan [--cold]]

Wall-clock throughput on a shared machine moves with the neighbours' load; the CPU time a
request costs (``time.process_time``) moves far less. This sends the throughput bench's
queries (``bench.query.query_mix``: the same seed, the same rotation) through the real Flask
app (test client, answer cache off, analytics on as the server has them, to a scratch file) and
prints the median over rounds of the mean CPU ms per request. Run it with ``PYTHONPATH`` set to
two checkouts in turn, in the same minute, and compare the ratio, not the absolute figures.
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # PYTHONPATH first: it picks the checkout measured

import search  # noqa: E402 - which checkout answered
from bench.query import query_mix  # noqa: E402
from search import evaluate  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from web.app import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--path", default="/api/search", help="/api/search (JSON) or / (the page)")
    parser.add_argument("--profile", type=Path, help="write a cProfile (CPU time) of the last round here")
    parser.add_argument("--plan", action="store_true", help="time only matching and scoring (evaluate.plan)")
    parser.add_argument(
        "--cold", action="store_true", help="with --plan: the generation's kept scores emptied before each query"
    )
    args = parser.parse_args()
    engine = SearchEngine(args.index, cache_entries=0)
    queries = list(dict.fromkeys(query_mix(engine, args.queries * 2)))[: args.queries]
    if args.plan:
        plan_only(engine, queries, args.rounds, args.cold)
        return
    del engine
    scratch = Path(tempfile.mkdtemp(prefix="request-cpu-"))
    app = create_app(
        {
            "INDEX_DIR": str(args.index),
            "RESULT_CACHE": 0,
            "ACCESS_LOG": False,
            "ANALYTICS_PATH": scratch / "analytics.sqlite3",
        }
    )
    client = app.test_client()
    urls = [f"{args.path}?q={quote_plus(q)}" for q in queries]
    for url in urls:  # warm: first reads of every query's pages, lazily built caches
        assert client.get(url).status_code == 200, url
    means = []
    for round_ in range(args.rounds):
        profiler = cProfile.Profile(time.process_time) if args.profile and round_ == args.rounds - 1 else None
        if profiler:
            profiler.enable()
        started = time.process_time()
        for url in urls:
            client.get(url)
        means.append((time.process_time() - started) / len(urls) * 1000)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
    print(
        f"{Path(search.__file__).parent.parent}: {len(urls)} distinct queries, {args.path}, "
        f"CPU ms/request median {statistics.median(means):.2f}, best {min(means):.2f}"
        f" (rounds: {', '.join(f'{m:.2f}' for m in means)})"
    )


def plan_only(engine: SearchEngine, queries: list[str], rounds: int, cold: bool = False) -> None:
    """CPU ms per query of ``evaluate.plan`` alone, as /api/search calls it (last word a prefix, typos on).

    ``cold``: every query finds none of the scores a generation keeps (terms' BM25 and frequencies, common
    words' arrays, query trees' terms), only the mapped posting lists: the uncached path.
    """
    gen = engine.generation()
    per_query = {q: [] for q in queries}
    for _ in range(rounds + 1):  # the first round warms the pages and caches
        for q in queries:
            if cold:
                _forget_kept(gen.scoring)
            started = time.process_time()
            evaluate.plan(q, gen, prefix_last=True, typos=True)
            per_query[q].append((time.process_time() - started) * 1000)
    best = sorted(min(times[1:]) for times in per_query.values())
    print(
        f"{Path(search.__file__).parent.parent}: evaluate.plan{' (cold)' if cold else ''}, {len(queries)} distinct "
        f"queries, CPU ms (best of {rounds} each): mean {statistics.fmean(best):.2f}, p50 {best[len(best) // 2]:.2f}, "
        f"p90 {best[int(len(best) * 0.9)]:.2f}, max {best[-1]:.2f}"
    )


def _forget_kept(scoring) -> None:
    """Empty what ``ScoringData`` keeps between requests (its attributes, as every measured checkout has them)."""
    scoring._bm25.clear()
    scoring._bm25_bytes = 0
    scoring._dense.clear()
    scoring._dense_bytes = 0


if __name__ == "__main__":
    main()
