"""The engine against the ideal ranking, on the TUNING half only: which judged items are out of place, and why.

    python eval/ideal.py                       # cause counts, then every misplaced item with its explain
    python eval/ideal.py --counts              # cause counts only
    python eval/ideal.py compound_weight=0     # ... under a policy variant (as eval/compare.py reads them)

For each tuning query: the relevant (grade 1 or 2) items ranked below 10, or below the last grade-0
item of the top 10, and the grade-0 items in the top 5, each with its explain (BM25 per term and
field, coordination and which words it holds, title bonus, prior). Causes are counted per item from
those parts; docs/relevance.md (third round) groups them by reading the lines.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.compare import variant  # noqa: E402
from eval.graded import load_judgments, open_collection, tuning_queries  # noqa: E402
from eval.metrics import ndcg_at_k  # noqa: E402
from indexer.analysis import analyze  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.request import build_request  # noqa: E402

DEPTH = 100  # how deep a relevant item is looked for
COPY = 0.8  # Jaccard of title + excerpt terms from which an item is a copy of another


def parts(hit: dict) -> dict:
    """What a hit's explain says, in the few numbers the causes read."""
    rules = {r["rule"]: r for r in hit["explain"]["rules"]}
    terms = rules["bm25"]["terms"]
    bm25 = rules["bm25"]["value"] or 1e-9
    coordination = rules.get("coordination", {})
    return {
        "bm25": rules["bm25"]["value"],
        "factor": coordination.get("factor", 1.0),
        "title": sum(t["value"] for t in terms if t["field"] == "title") / bm25,
        "provider": sum(t["value"] for t in terms if t["field"] == "provider_text") / bm25,
        "prior": rules["prior"]["factor"],
        "partial": not rules.get("words", {}).get("all_words", True),
        "held": "".join("+" if w["held"] else "-" for w in coordination.get("words", [])),
        "terms": " ".join(f"{t['term']}/{t['field'][0]}={t['value']:.1f}" for t in terms),
    }


def causes(engine: SearchEngine, queries: list[dict], judged: dict, show: bool) -> Counter:
    counts: Counter = Counter()
    where: dict[str, set[str]] = defaultdict(set)
    words = {
        d["key"]: set(analyze(d.get("title", ""))) | set(analyze(d.get("excerpt", "")))
        for d in engine.stored_documents()
    }

    def add(cause: str, query: dict) -> None:
        counts[cause] += 1
        where[cause].add(query["id"])

    for q in queries:
        grades = judged.get(q["id"], {})
        hits = engine.search(build_request(q["query"], limit=DEPTH, group=False, explain=True))["hits"]
        keys = [h["key"] for h in hits]
        info = {h["key"]: parts(h) for h in hits}
        zeros = [i for i, k in enumerate(keys[:10]) if grades.get(k, 0) == 0]
        lines = []
        for i in zeros:
            k = keys[i]
            if i >= 5:
                continue
            add("A. grade-0 item in a top 5", q)
            if any(len(words[k] & words[o]) / max(1, len(words[k] | words[o])) >= COPY for o in keys[:i]):
                add("A1. ... a copy of an item above it", q)
            if info[k]["provider"] > 0.2:
                add("A2. ... a fifth or more of its BM25 from the provider's name", q)
            if info[k]["title"] > 0.6:
                add("A3. ... most of its BM25 (> 60%) from its title", q)
            if info[k]["held"].count("+") == 1 and len(info[k]["held"]) > 1:
                add("A4. ... holds one of the query's words", q)
            lines.append((i, 0, k))
        last = keys[zeros[-1]] if zeros else None
        for k, grade in grades.items():
            at = keys.index(k) if k in keys else None
            if grade <= 0 or last is None or (at is not None and at < zeros[-1]):
                continue
            add("B. relevant item below 10 or below a grade-0 item", q)
            if at is None:
                add(f"B0. ... not in the top {DEPTH}", q)
                continue
            mine, theirs = info[k], info[last]
            if mine["partial"] and not theirs["partial"]:
                add("B1. ... lacks a word (all-words tier)", q)
            elif mine["factor"] < theirs["factor"] - 1e-6:
                add("B2. ... holds a smaller share of the query than the top 10's last grade-0 item", q)
            elif mine["factor"] > theirs["factor"] + 1e-6:
                add("B3. ... holds a larger share, scores less (that item's title carries it)", q)
            elif mine["bm25"] * mine["factor"] >= theirs["bm25"] * theirs["factor"]:
                add("B4. ... same words, the quality prior decides", q)
            else:
                add("B5. ... same words, BM25 decides (field, tf, length)", q)
            lines.append((at, grade, k))
        if show and lines:
            score = ndcg_at_k(keys[:10], {k: float(g) for k, g in grades.items()})
            print(f"\n{q['id']} {q['type']} nDCG@10 {score:.3f}: {q['query']}")
            for at, grade, k in sorted(lines):
                p, h = info[k], hits[at]
                print(
                    f"  {at + 1:3} g{grade} co {p['factor']:.2f}[{p['held']}] prior {p['prior']:.2f}"
                    f"{' partial' if p['partial'] else ''} | {h['title'][:60]} | {h['provider_domain']} || {p['terms']}"
                )
    print(f"\n{'items':>6} {'queries':>8}  cause (tuning half, {len(queries)} queries)")
    for cause in sorted(counts):
        print(f"{counts[cause]:6} {len(where[cause]):8}  {cause}")
    return counts


def main(args: list[str]) -> None:
    show = "--counts" not in args
    specs = [a for a in args if a != "--counts"]
    engine, folder = open_collection()
    try:
        policy = variant("&".join(specs))
        engine = SearchEngine(engine.index_dir, cache_entries=0, policy=policy)
        judged = load_judgments()
        causes(engine, tuning_queries(judged), judged, show)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
