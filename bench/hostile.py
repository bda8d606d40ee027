"""Query shapes that once stalled the server, timed at scale (run on demand, not in CI).

    python bench/hostile.py --index /tmp/news-bench/index20k

Every query must answer (200) or be refused with a sentence (400) within a second: term ranges
over the whole vocabulary, many ranges ORed, wildcards, fuzzy terms, phrases of common words,
long pasted text, deep nesting, and date filters across the whole calendar.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.analysis import use_nltk  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.query import QUERY_REFUSALS  # noqa: E402
from search.request import build_request  # noqa: E402

QUERIES = [
    ("[a TO zy]", ()),
    (" OR ".join(["[a TO zz]"] * 16), ()),
    ("title:[a TO m] excerpt:[n TO z]", ()),
    ("co*", ()),
    ("a* b* c* d* e* f* g* h*", ()),
    ("re?o*", ()),
    ("recognition~2 facial~2 police~2", ()),
    ('"the of and to in"', ()),
    ('"facial recognition" OR "artificial intelligence" OR "machine learning"', ()),
    ("the " * 60, ()),
    (" ".join(f"w{i}" for i in range(64)), ()),
    ("(" * 30 + "police" + ")" * 30, ()),
    ("NOT NOT NOT police", ()),
    ("-a -b -c -d -e -f police", ()),
    ("date:>2000", ()),
    ("police", ("date:0001-01-01..9999-12-31",)),
    ("", ("date:0001-01-01..9999-12-31",)),
    ("a", ()),
    ("p", ()),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("/tmp/news-bench/index20k"))
    args = parser.parse_args()
    engine = SearchEngine(args.index, cache_entries=0)
    use_nltk()  # as a server has it loaded (web.app loads the stemmer at start): time the queries, not the import
    print(f"index: {int(engine.generation().live.sum()):,} documents")
    worst = 0.0
    for q, filters in QUERIES:
        started = time.perf_counter()
        try:
            total = engine.search(build_request(q, filters=filters))["total"]
            outcome = f"200, {total:,} results"
        except QUERY_REFUSALS as exc:
            outcome = f"400: {exc}"
        took = time.perf_counter() - started
        worst = max(worst, took)
        print(f"{took * 1000:8.1f} ms  {q[:50]!r:54} {' '.join(filters)[:30]:30} {outcome[:70]}")
    print(f"slowest: {worst * 1000:.0f} ms (bound: 1000 ms)")


if __name__ == "__main__":
    main()
