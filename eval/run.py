"""Relevance on the blind graded set, beside plain-BM25 baselines on the same documents.

    python eval/run.py            # indexes seeds + AI + Power Apps corpora into a temporary folder
    python eval/run.py --half tuning
    python eval/run.py --policy "saturation=field&k1=1.2"   # the engine under a policy variant
    SEARCH_SEMANTIC_MODEL=none python eval/run.py          # words alone, without item vectors

Prints nDCG@10 per query type and overall, for each half of the graded set (tuning, held-out, and
the fresh set written after the held-out half had been seen), for SQLite FTS5, tantivy and bm25s
and for the engine, both as the flat list and as the grouped page (each story's shown items
counted in page order); judged@10 says how much of each top 10 was judged (unjudged items count
as not relevant). Then known-item MRR, typo recall@10 (graded typo
queries: relevant items found in the top 10, over at most 10), and the share of generated typo
queries whose did-you-mean restores the word. The story set is printed as a guard on grouping
only: its answers are the ``related:`` lists the ranking can read, so it is never a target.
With the semantic extra installed the collection is embedded (``eval.graded.SEMANTIC``) and the
engine ranks with the semantic rule; "engine, words (flat)" is the same index without it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import baselines  # noqa: E402
from eval.graded import (  # noqa: E402
    HALVES,
    TYPES,
    engine_rank,
    load_judgments,
    load_queries,
    open_collection,
    page_rank,
    scored,
)
from eval.metrics import ndcg_at_k, reciprocal_rank  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.request import build_request  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
Rank = Callable[[str, int], list[str]]


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def graded_table(systems: dict[str, Rank], queries: list[dict], judged: dict[str, dict[str, int]]) -> dict:
    """system -> half -> {type: nDCG@10, 'all': nDCG@10, 'judged@10': share}."""
    table: dict = {}
    for name, rank in systems.items():
        for half in HALVES:
            rows = scored([q for q in queries if q["half"] == half], judged)
            per_type: dict[str, list[float]] = {t: [] for t in TYPES}
            seen = judged_count = 0
            for q in rows:
                ranked = rank(q["query"], 10)
                gains = judged.get(q["id"], {})
                per_type[q["type"]].append(ndcg_at_k(ranked, {k: float(g) for k, g in gains.items()}))
                seen += len(ranked)
                judged_count += sum(1 for k in ranked if k in gains)
            cell = {t: _mean(v) for t, v in per_type.items()}
            cell["all"] = _mean([x for v in per_type.values() for x in v])
            cell["judged@10"] = judged_count / seen if seen else 1.0
            cell["queries"] = len(rows)
            table.setdefault(name, {})[half] = cell
    return table


def typo_recall(rank: Rank, queries: list[dict], judged: dict[str, dict[str, int]], half: str) -> float:
    values = []
    for q in queries:
        if q["type"] != "typo" or q["half"] != half:
            continue
        relevant = {k for k, g in judged.get(q["id"], {}).items() if g > 0}
        if relevant:
            values.append(len(set(rank(q["query"], 10)) & relevant) / min(10, len(relevant)))
    return _mean(values)


def _restored(engine, query: str) -> set[str | None]:
    """What the engine offers for a misspelt query: the correction it searched, and its did-you-mean."""
    answer = engine.search(build_request(query))
    return {answer["corrected"], answer["suggestion"]}


def _mean(values: list[float]) -> float:
    """The mean, NaN for none (a half without queries of a type: printed as "-", never as a score of 0)."""
    return sum(values) / len(values) if values else float("nan")


def _cell(value: float) -> str:
    return f"{'-':>11}" if math.isnan(value) else f"{value:11.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", choices=(*HALVES, "both", "all"), default="all")
    parser.add_argument("--policy", default="", help="the engine under a policy variant, 'field=value&...'")
    args = parser.parse_args()
    engine, folder = open_collection()
    if args.policy:
        from eval.compare import variant

        engine = SearchEngine(engine.index_dir, cache_entries=0, policy=variant(args.policy))
    queries, judged = load_queries(), load_judgments()
    halves = {"all": HALVES, "both": HALVES[:2]}.get(args.half, (args.half,))
    print(
        f"graded set: {len(queries)} queries ("
        + ", ".join(f"{sum(q['half'] == h for q in queries)} {h}" for h in HALVES)
        + "), "
        f"{sum(len(g) for g in judged.values())} judgments"
    )
    with tempfile.TemporaryDirectory() as tmp:
        systems: dict[str, Rank] = dict(baselines.build_all(engine, Path(tmp)))
        systems["engine (flat)"] = lambda q, k: engine_rank(engine, q, k)
        systems["engine (page)"] = lambda q, k: page_rank(engine, q, k)
        if engine.generation().vectors is not None:  # the engine as it ranks without the semantic extra
            words = SearchEngine(engine.index_dir, cache_entries=0, policy=replace(engine.policy, semantic_weight=0))
            systems["engine, words (flat)"] = lambda q, k: engine_rank(words, q, k)
        table = graded_table(systems, queries, judged)
        columns = [*TYPES, "all", "judged@10"]
        for half in halves:
            print(f"\nnDCG@10, {half} half ({table['engine (flat)'][half]['queries']} queries)")
            print(f"{'':22}" + "".join(f"{c:>11}" for c in columns))
            for name in systems:
                print(f"{name:22}" + "".join(_cell(table[name][half][c]) for c in columns))
            best = max(table[n][half]["all"] for n in systems if not n.startswith("engine"))
            flat = table["engine (flat)"][half]["all"]
            print(f"engine (flat) vs best baseline: {flat:.3f} / {best:.3f} = {flat / best:.3f}x")
        print()
        known = load("known_item")
        for name, rank in systems.items():
            mrr = _mean([reciprocal_rank(rank(r["query"], 10), {r["expected"]}) for r in known])
            recall = " / ".join(_cell(typo_recall(rank, queries, judged, h)).strip() for h in halves)
            print(f"{name:22} known-item MRR {mrr:.3f}   typo recall@10 ({' / '.join(halves)}) {recall}")
    typos = load("typo")
    fixed = sum(1 for row in typos if row["expected"] in _restored(engine, row["query"]))
    print(
        f"\ntypo correction (results for, or did you mean) restores {fixed}/{len(typos)} generated typos"
        f" ({fixed / len(typos):.0%})"
    )
    story = load("story")
    guard = _mean(
        [
            ndcg_at_k([k for k in engine_rank(engine, r["query"], 11) if k not in r["exclude"]][:10], r["relevant"])
            for r in story
        ]
    )
    print(f"story set (guard on grouping only, never a target): flat nDCG@10 {guard:.3f}")
    shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
