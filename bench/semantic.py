"""What the semantic rule costs a search: uncached requests with and without it, beside SQLite FTS5.

    PYTHONPATH=. python bench/semantic.py --index /tmp/nb/index20k_sem [--queries 200] [--rounds 3]

The index must be embedded (``search-cli --semantic-model default index``). Each round sends the
throughput bench's queries (``bench.query.query_mix``) to one engine with the policy as shipped and
to one with ``semantic_weight`` 0 (words alone: the same index, the rule skipped), query by query
in turn (answer caches off), and to SQLite FTS5 over the same documents; it prints, per round, the
mean CPU ms (all threads: the model's too) and the median wall ms per request of each, and the
ratios, then the same for the queries of 3 words or more alone (the only ones e5's rule embeds). The
embedding model is loaded before the first round (a server loads it at start).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # as search-cli sets them for every command (web.cli): one thread a request

from bench.baseline import build_sqlite, sqlite_search  # noqa: E402
from bench.query import query_mix  # noqa: E402
from indexer import embedder  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.request import build_request  # noqa: E402


def timed(run) -> tuple[float, float]:
    """(CPU ms, wall ms) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    meaning = SearchEngine(args.index, cache_entries=0)
    gen = meaning.generation()
    if gen.vectors is None:
        raise SystemExit(f"{args.index} has no item vectors: index it with --semantic-model default")
    words = SearchEngine(args.index, cache_entries=0, policy=dataclasses.replace(meaning.policy, semantic_weight=0))
    started = time.perf_counter()
    embedder.load(gen.vectors.model, gen.vectors.runtime)  # as a server does: the exported copy where there is one
    print(f"{gen.doc_count:,} documents; model {gen.vectors.model} loaded in {time.perf_counter() - started:.1f} s")
    queries = query_mix(meaning, args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        db = build_sqlite(meaning, Path(tmp) / "fts.db")
        systems = {
            # the query's vector made anew each time: the uncached path (embedder.query_vector keeps them)
            "semantic": lambda q: (embedder.forget_query_vectors(), meaning.search(build_request(q))),
            "words": lambda q: words.search(build_request(q)),
            "FTS5": lambda q: sqlite_search(db, q),
        }
        for run in systems.values():  # warm: postings cached per generation, as on a running server
            for q in queries[:20]:
                run(q)
        for number in range(1, args.rounds + 1):
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in systems}
            for q in queries:
                for name, run in systems.items():
                    times[name].append(timed(lambda run=run, q=q: run(q)))
            cpu = {n: statistics.mean(c for c, _ in t) for n, t in times.items()}
            wall = {n: statistics.median(w for _, w in t) for n, t in times.items()}
            print(
                f"round {number}: "
                + ", ".join(f"{n} CPU {cpu[n]:.2f} ms wall p50 {wall[n]:.2f} ms" for n in systems)
                + f"; semantic/words CPU {cpu['semantic'] / cpu['words']:.2f}x,"
                + f" p50 {wall['semantic'] / wall['words']:.2f}x"
                + f"; semantic/FTS5 p50 {wall['semantic'] / wall['FTS5']:.2f}x"
            )
            # e5's rule embeds only queries of 3 words or more (policy.meaning_weight): their cost apart
            long = [i for i, q in enumerate(queries) if len(q.split()) >= 3]
            if long:
                p50 = {n: statistics.median(t[i][1] for i in long) for n, t in times.items()}
                print(
                    f"  {len(long)} queries of 3 words or more: "
                    + ", ".join(f"{n} wall p50 {p50[n]:.2f} ms" for n in systems)
                    + f"; semantic/words {p50['semantic'] / p50['words']:.2f}x,"
                    + f" semantic/FTS5 {p50['semantic'] / p50['FTS5']:.2f}x"
                )


if __name__ == "__main__":
    main()
