"""Relevance on the judged sets: the product beside plain-BM25 baselines on the same documents.

    python eval/run.py            # indexes seeds + AI + Power Apps corpora into a temporary folder

Prints nDCG@10, MRR and recall@10 for the story, hand-judged and known-item sets, for this engine and for
SQLite FTS5 bm25 and tantivy bm25 (plain, and with the title weighted 2x), and the share of typo queries whose
did-you-mean restores the word.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baseline import build_sqlite, sqlite_rank  # noqa: E402
from eval.build_sets import collection_folder  # noqa: E402
from eval.metrics import ndcg_at_k, recall_at_k, reciprocal_rank  # noqa: E402
from indexer import build  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.request import build_request  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
WORDS = re.compile(r"\w+")


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def engine_rank(engine: SearchEngine, query: str, exclude: set[str], k: int = 10) -> list[str]:
    # the flat ranking: grouping by story is presentation, and would fold a story's items into one hit
    hits = engine.search(build_request(query[:1000], limit=min(100, k + len(exclude)), group=False))["hits"]
    return [h["key"] for h in hits if h["key"] not in exclude][:k]


def evaluate(rank, graded: dict[str, list[dict]], known: list[dict]) -> dict[str, float]:
    """Mean metrics over graded sets (story, hand) and the known-item set."""
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    scores: dict[str, float] = {}
    for name, rows in graded.items():
        ndcg, rr, recall = [], [], []
        for row in rows:
            ranked = rank(row["query"], set(row.get("exclude", ())))
            relevant = {k for k, g in row["relevant"].items() if g > 0}
            ndcg.append(ndcg_at_k(ranked, row["relevant"]))
            rr.append(reciprocal_rank(ranked, relevant))
            recall.append(recall_at_k(ranked, relevant))
        scores[f"{name} nDCG@10"] = mean(ndcg)
        scores[f"{name} MRR"] = mean(rr)
        scores[f"{name} recall@10"] = mean(recall)
    scores["known-item MRR"] = mean([reciprocal_rank(rank(r["query"], set()), {r["expected"]}) for r in known])
    return scores


def main() -> None:
    folder = collection_folder()
    index = folder.parent / "index"
    report = build.full_build(folder, index)
    engine = SearchEngine(index, cache_entries=0)
    graded = {"story": load("story"), "hand": load("hand")}
    known, typos = load("known_item"), load("typo")
    print(
        f"collection: {report.documents} documents from {report.files_total} files; {len(graded['story'])} story, "
        f"{len(graded['hand'])} hand-judged, {len(known)} known-item, {len(typos)} typo queries"
    )

    results = {"engine": evaluate(lambda q, ex: engine_rank(engine, q, ex), graded, known)}
    with tempfile.TemporaryDirectory() as tmp:
        db: sqlite3.Connection = build_sqlite(engine, Path(tmp) / "fts.db")
        for name, weight in (("FTS5 bm25", 1.0), ("FTS5 bm25, title 2x", 2.0)):

            def rank(q: str, ex: set[str], weight: float = weight) -> list[str]:
                return [
                    k for k in sqlite_rank(db, WORDS.findall(q), limit=10 + len(ex), title_weight=weight) if k not in ex
                ][:10]

            results[name] = evaluate(rank, graded, known)
        db.close()
    try:
        from eval.tantivy_baseline import build_tantivy

        for name, weight in (("tantivy bm25", 1.0), ("tantivy, title 2x", 2.0)):
            tantivy_rank = build_tantivy(engine, weight)
            results[name] = evaluate(
                lambda q, ex, r=tantivy_rank: [k for k in r(q, 10 + len(ex)) if k not in ex][:10], graded, known
            )
    except ImportError:
        print("(tantivy not installed: pip install -e '.[eval]' to add its baselines)")

    names = list(results)
    print()
    print(f"{'':20}" + "".join(f"{n:>20}" for n in names))
    for metric in results["engine"]:
        print(f"{metric:20}" + "".join(f"{results[n][metric]:20.3f}" for n in names))
    best = max(results[n]["story nDCG@10"] for n in names[1:])
    print(
        f"\nstory nDCG@10: engine {results['engine']['story nDCG@10']:.3f} vs best baseline {best:.3f} "
        f"({(results['engine']['story nDCG@10'] / best - 1) * 100:+.1f}%)"
    )
    fixed = sum(1 for row in typos if engine.search(build_request(row["query"]))["suggestion"] == row["expected"])
    print(f"typo queries whose did-you-mean restores the word: {fixed}/{len(typos)} ({fixed / len(typos):.0%})")
    shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
