"""nDCG@10 per type on a range of graded query ids, every system (run on demand).

    python eval/subset.py f081 f140    # the fresh queries no decision has used (docs/relevance.md)

The same table as ``eval/run.py`` prints per half (``eval.run.graded_table``), over the queries whose
ids fall in the range (same letter, numbers inclusive), that some system found a relevant item for.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import baselines  # noqa: E402
from eval.graded import TYPES, engine_rank, load_judgments, load_queries, open_collection  # noqa: E402
from eval.run import graded_table  # noqa: E402


def in_range(query_id: str, first: str, last: str) -> bool:
    """Whether ``query_id`` ('f090') lies between ``first`` and ``last`` (same letter, numbers inclusive)."""
    return query_id[0] == first[0] and int(first[1:]) <= int(query_id[1:]) <= int(last[1:])


def main(first: str, last: str) -> None:
    engine, _folder = open_collection()
    judged = load_judgments()
    queries = [q for q in load_queries() if in_range(q["id"], first, last)]
    with tempfile.TemporaryDirectory() as tmp:
        systems = dict(baselines.build_all(engine, Path(tmp)))
        systems["engine (flat)"] = lambda q, k: engine_rank(engine, q, k)
        table = graded_table(systems, queries, judged)
    for half in sorted({q["half"] for q in queries}):
        print(f"{half} half, {first}-{last} ({table['engine (flat)'][half]['queries']} scored queries)")
        print(f"{'':22}" + "".join(f"{c:>11}" for c in (*TYPES, "all")))
        for name in systems:
            print(f"{name:22}" + "".join(f"{table[name][half][c]:11.3f}" for c in (*TYPES, "all")))


if __name__ == "__main__":
    main(*sys.argv[1:3])
