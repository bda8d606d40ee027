"""The engine against each baseline, query by query, on the TUNING half only (never the held-out half).

    python eval/versus.py                   # every tuning query: engine and baseline nDCG@10
    python eval/versus.py --type topical    # one query type
    python eval/versus.py --show            # ... and, where a baseline leads, why (the engine's explain)

A type's mean hides which queries a baseline wins: docs/relevance.md (fifth round) reads them here.
For each query a baseline leads, it prints the engine's top 10 with grades and explain parts, and
each relevant item the baseline ranks higher than the engine does, with where the engine puts it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import baselines  # noqa: E402
from eval.graded import TYPES, load_judgments, open_collection, tuning_queries  # noqa: E402
from eval.ideal import DEPTH, parts  # noqa: E402
from eval.metrics import ndcg_at_k  # noqa: E402
from search.request import build_request  # noqa: E402


def ranked_higher(engine: list[str], baseline: list[str], grades: dict[str, int]) -> list[tuple[str, int | None]]:
    """The relevant items of ``baseline``'s list that ``engine`` ranks lower (or not at all), with the engine's rank."""
    out = []
    for at, key in enumerate(baseline):
        if grades.get(key, 0) <= 0:
            continue
        mine = engine.index(key) if key in engine else None
        if mine is None or mine > at:
            out.append((key, None if mine is None else mine + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", choices=TYPES)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    engine, folder = open_collection()
    try:
        judged = load_judgments()
        queries = tuning_queries(judged, args.type)
        with tempfile.TemporaryDirectory() as tmp:
            systems = baselines.build_all(engine, Path(tmp))
            totals = dict.fromkeys(["engine", *systems], 0.0)
            for q in queries:
                grades = judged.get(q["id"], {})
                gains = {k: float(g) for k, g in grades.items()}
                hits = engine.search(build_request(q["query"], limit=DEPTH, group=False, explain=True))["hits"]
                mine = [h["key"] for h in hits]
                theirs = {name: rank(q["query"], 10) for name, rank in systems.items()}
                scores = {"engine": ndcg_at_k(mine[:10], gains)} | {n: ndcg_at_k(r, gains) for n, r in theirs.items()}
                for name, value in scores.items():
                    totals[name] += value
                cells = "  ".join(f"{name.split()[0]} {value:.3f}" for name, value in scores.items())
                print(f"{q['id']} {q['type']:8} {cells}  {q['query']}")
                leading = [n for n in systems if scores[n] > scores["engine"] + 1e-9]
                if args.show and leading:
                    _why(hits, grades, {n: theirs[n] for n in leading})
        print("mean   " + "  ".join(f"{n.split()[0]} {v / max(len(queries), 1):.4f}" for n, v in totals.items()))
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def _why(hits: list[dict], grades: dict[str, int], leading: dict[str, list[str]]) -> None:
    """The engine's top 10 with grades and explain parts, then what each leading baseline ranks higher."""
    info = {h["key"]: (h, parts(h)) for h in hits}
    mine = [h["key"] for h in hits]
    for at, key in enumerate(mine[:10]):
        h, p = info[key]
        print(f"    {at + 1:3} g{grades.get(key, '?')} {_line(h, p)}")
    for name, theirs in leading.items():
        for key, rank in ranked_higher(mine, theirs, grades):
            where = f"engine {rank}" if rank else f"engine > {len(mine)}"
            line = _line(*info[key]) if key in info else key
            print(f"    {name.split()[0]} {theirs.index(key) + 1}, {where}: g{grades[key]} {line}")


def _line(hit: dict, p: dict) -> str:
    return (
        f"co {p['factor']:.2f}[{p['held']}] prior {p['prior']:.2f}{' partial' if p['partial'] else ''}"
        f" | {hit['title'][:60]} | {hit['provider_domain']} || {p['terms']}"
    )


if __name__ == "__main__":
    main()
