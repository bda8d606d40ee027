"""Re-rankers of the engine's top 50 on the TUNING half (never the held-out halves): proximity and a learned mix.

    python eval/rerank.py proximity     # x (1 + w x the share of adjacent query-word pairs side by side)
    python eval/rerank.py learned       # a pairwise-logistic mix of the explain parts, 5-fold cross-validated

Both re-order the engine's flat top 50 (as Elasticsearch's ``rescore`` re-orders a window), keeping
the words tier (partial matches stay after full ones), and are compared query by query with the
engine's own order, as ``eval/compare.py`` compares policy variants (mean change, up / down, per type).
``learned`` fits weights on four fifths of the tuning queries and scores the fifth it did not see,
three times over with other folds: a learned ranking's gain on its own training queries says nothing.
"""

from __future__ import annotations

import shutil
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.compare import paired  # noqa: E402
from eval.graded import TYPES, load_judgments, open_collection, tuning_queries  # noqa: E402
from eval.metrics import ndcg_at_k  # noqa: E402
from indexer.analysis import analyze  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.evaluate import plan  # noqa: E402
from search.request import build_request  # noqa: E402

WINDOW = 50
FEATURES = ("log title", "log excerpt", "log provider", "log coordination", "log title bonus", "log prior")


def candidates(engine: SearchEngine, query: str) -> list[dict]:
    """The engine's flat top 50 with each hit's explain parts: fields' BM25, coordination, title bonus, prior."""
    answer = engine.search(build_request(query[:1000], limit=WINDOW, group=False, explain=True))
    rows = []
    for hit in answer["hits"]:
        rules = {r["rule"]: r for r in hit["explain"]["rules"]}
        fields = dict.fromkeys(("title", "excerpt", "provider_text"), 0.0)
        for line in rules["bm25"].get("terms", []):
            fields[line["field"]] += line["value"]
        parts = [fields["title"], fields["excerpt"], fields["provider_text"]]
        parts += [rules.get("coordination", {}).get("factor", 1.0), rules.get("title", {}).get("bonus", 0.0)]
        features = [*np.log1p(parts[:3]), np.log(max(parts[3], 1e-3)), np.log1p(parts[4])]
        features.append(np.log(rules["prior"]["factor"]))
        rows.append({**hit, "partial": bool(hit.get("partial")), "features": np.array(features)})
    return rows


def reorder(rows: list[dict], score) -> list[str]:
    """Keys of ``rows`` by ``score(row)``, partial matches after full ones, ties in the engine's order."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["partial"], -score(rows[i]), i))
    return [rows[i]["key"] for i in order]


def adjacent_share(groups: list[list], row: dict) -> float:
    """The share of the query's adjacent word pairs that stand side by side, in order, in the title or excerpt."""
    words = [{a.term for a in group} for group in groups]
    if len(words) < 2:
        return 0.0
    texts = [analyze(row.get("title") or ""), analyze(row.get("excerpt") or "")]
    near = sum(
        any(a in first and b in second for text in texts for a, b in pairwise(text))
        for first, second in pairwise(words)
    )
    return near / (len(words) - 1)


def fit(pairs: np.ndarray, l2: float, steps: int = 2000, rate: float = 0.1) -> np.ndarray:
    """Weights of a pairwise logistic ranker (RankNet's loss, linear) on feature differences better - worse."""
    weights = np.zeros(pairs.shape[1])
    weights[[0, 1, 3]] = 1.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(np.clip(pairs @ weights, -30, 30)))
        weights -= rate * (-(pairs * p[:, None]).mean(0) + l2 * weights)
    return weights


def training_pairs(ids: list[str], tops: dict[str, list[dict]], judged: dict[str, dict[str, int]]) -> np.ndarray:
    """Feature differences of every judged pair (higher grade first) within a query and a tier."""
    out = []
    for qid in ids:
        grades = judged[qid]
        rows = [r for r in tops[qid] if r["key"] in grades]
        out += [
            a["features"] - b["features"]
            for a in rows
            for b in rows
            if grades[a["key"]] > grades[b["key"]] and a["partial"] == b["partial"]
        ]
    return np.array(out)


def report(label: str, base: dict[str, float], scores: dict[str, float], queries: list[dict], extra: str = "") -> None:
    s = paired(base, scores)
    types = " ".join(
        f"{t[:3]} {np.mean([scores[q['id']] - base[q['id']] for q in queries if q['type'] == t]):+.3f}" for t in TYPES
    )
    print(f"{label:34}{s['mean']:+8.4f}  [{s['low']:+.3f}, {s['high']:+.3f}]{s['up']:4}{s['down']:5}  {types}{extra}")


def proximity(engine: SearchEngine, queries: list[dict], tops: dict, gains: dict, base: dict) -> None:
    gen = engine.generation()
    groups = {
        q["id"]: [g for g in plan(q["query"], gen, prefix_last=True, typos=True).scored if isinstance(g, list)]
        for q in queries
    }
    for weight in (0.1, 0.3, 0.5, 1.0):
        scores = {}
        for q in queries:
            words = groups[q["id"]]
            ranked = reorder(tops[q["id"]], lambda r, g=words, w=weight: r["score"] * (1 + w * adjacent_share(g, r)))
            scores[q["id"]] = ndcg_at_k(ranked, gains[q["id"]])
        report(f"proximity, weight {weight}", base, scores, queries)


def learned(queries: list[dict], tops: dict, gains: dict, base: dict, judged: dict) -> None:
    ids = [q["id"] for q in queries]
    rng = np.random.default_rng(20261202)
    for l2 in (0.01, 0.1, 1.0):
        runs: dict[str, list[float]] = {i: [] for i in ids}
        for _ in range(3):
            order = rng.permutation(len(ids))
            for fold in range(5):
                held = {ids[i] for i in order[fold::5]}
                weights = fit(training_pairs([i for i in ids if i not in held], tops, judged), l2)
                for qid in held:
                    ranked = reorder(tops[qid], lambda r, w=weights: float(r["features"] @ w))
                    runs[qid].append(ndcg_at_k(ranked, gains[qid]))
        scores = {i: float(np.mean(v)) for i, v in runs.items()}
        report(f"learned, l2 {l2} (cross-validated)", base, scores, queries)
        weights = fit(training_pairs(ids, tops, judged), l2)
        named = ", ".join(f"{n} {w:.2f}" for n, w in zip(FEATURES, weights, strict=True))
        print(f"    weights fitted on every tuning query: {named}")


def main(which: str) -> None:
    engine, folder = open_collection()
    try:
        judged = load_judgments()
        queries = tuning_queries(judged)
        gains = {q["id"]: {k: float(g) for k, g in judged[q["id"]].items()} for q in queries}
        tops = {q["id"]: candidates(engine, q["query"]) for q in queries}
        base = {q["id"]: ndcg_at_k([r["key"] for r in tops[q["id"]]], gains[q["id"]]) for q in queries}
        print(f"engine, tuning half ({len(queries)} queries): nDCG@10 {np.mean(list(base.values())):.4f}")
        print(f"{'re-ranker':34}{'delta':>8}{'95% CI':>18}{'up':>4}{'down':>5}  per type")
        if which == "proximity":
            proximity(engine, queries, tops, gains, base)
        else:
            learned(queries, tops, gains, base, judged)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main((sys.argv[1:] or ["learned"])[0])
