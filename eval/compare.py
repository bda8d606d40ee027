"""Paired, per-query comparison of ranking-policy variants on the TUNING half (never the held-out half).

    python eval/compare.py long_query_words=3,4          # each value against the current policy
    python eval/compare.py --show long_query_words=3     # ... and every query that moved
    python eval/compare.py "feedback_from=3&feedback_docs=5"          # fields changed together
    python eval/compare.py --base feedback_from=3 feedback_docs=3,5   # against another starting point

Queries no system found a relevant item for are left out, as eval/run.py leaves them out. A mean
over 53 queries moves by 0.005 when one item of one query changes places, so a variant is judged
query by query: how many queries it lifts and lowers, the mean change with a paired
bootstrap 95% interval, and a two-sided sign-flip randomization test on the per-query changes (the
chance of a mean change this large if each query's change were as likely up as down). The rule
used in docs/relevance.md: keep a variant only if the tuning mean rises by at least 0.005, it lifts
at least twice as many queries as it lowers, and known-item MRR and typo recall do not fall.
Besides the change per query type, ``new`` is the change on the queries written later to tune on
(``"set": "tuning"``, t001-t140): written with the fresh set's brief, they show its kind of query.
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.graded import TYPES, engine_rank, load_judgments, open_collection, tuning_queries  # noqa: E402
from eval.metrics import ndcg_at_k, reciprocal_rank  # noqa: E402
from eval.run import load, typo_recall  # noqa: E402
from eval.sweep import policy_variant  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.ranking import POLICY  # noqa: E402

RESAMPLES = 10_000
SEED = 20261202


def top10s(engine: SearchEngine, queries: list[dict]) -> dict[str, list[str]]:
    """Query text -> the engine's flat top 10: each query searched once, every measure read from it."""
    return {q["query"]: engine_rank(engine, q["query"], 10) for q in queries}


def per_query(ranked: dict[str, list[str]], queries: list[dict], judged: dict[str, dict[str, int]]) -> dict[str, float]:
    """Query id -> flat nDCG@10."""
    gains = {q["id"]: {k: float(g) for k, g in judged.get(q["id"], {}).items()} for q in queries}
    return {q["id"]: ndcg_at_k(ranked[q["query"]], gains[q["id"]]) for q in queries}


def unjudged_and_typo_recall(ranked: dict[str, list[str]], queries: list[dict], judged: dict[str, dict[str, int]]):
    """(share of the top 10s never judged, typo recall@10 as eval/run.py counts it)."""
    tops = [(ranked[q["query"]], judged.get(q["id"], {})) for q in queries]
    seen = sum(len(top) for top, _ in tops)
    unjudged = sum(k not in grades for top, grades in tops for k in top)
    recall = typo_recall(lambda text, k: ranked[text][:k], queries, judged, "tuning")
    return unjudged / max(seen, 1), recall


def paired(base: dict[str, float], variant: dict[str, float]) -> dict[str, float]:
    """Mean change, queries up / down, bootstrap 95% interval and randomization p of variant - base."""
    deltas = [variant[q] - base[q] for q in base]
    n = len(deltas)
    mean = sum(deltas) / n
    rng = random.Random(SEED)
    boot = sorted(sum(rng.choice(deltas) for _ in range(n)) / n for _ in range(RESAMPLES))
    moved = [abs(d) for d in deltas if abs(d) > 1e-9]
    extreme = sum(
        abs(sum(d if rng.random() < 0.5 else -d for d in moved)) / n >= abs(mean) - 1e-12 for _ in range(RESAMPLES)
    )
    return {
        "mean": mean,
        "up": sum(d > 1e-9 for d in deltas),
        "down": sum(d < -1e-9 for d in deltas),
        "low": boot[int(0.025 * RESAMPLES)],
        "high": boot[int(0.975 * RESAMPLES)],
        "p": extreme / RESAMPLES if moved else 1.0,
    }


def known_item_mrr(engine: SearchEngine, known: list[dict]) -> float:
    return sum(reciprocal_rank(engine_rank(engine, r["query"]), {r["expected"]}) for r in known) / len(known)


def variant(spec: str, base=POLICY):
    """A policy from ``base`` with fields set by 'field=value&field=value' (as eval/sweep.py reads them)."""
    policy = base
    for part in filter(None, spec.split("&")):
        name, raw = part.split("=", 1)
        policy = policy_variant(name, raw, policy)
    return policy


def main(args: list[str]) -> None:
    show = "--show" in args
    args = [a for a in args if a != "--show"]
    start = ""
    if "--base" in args:
        at = args.index("--base")
        start = args[at + 1]
        del args[at : at + 2]
    engine, folder = open_collection()
    try:
        _compare(engine, start, args, show)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def _compare(engine: SearchEngine, start: str, specs: list[str], show: bool) -> None:
    index = engine.index_dir
    judged, known = load_judgments(), load("known_item")
    queries = tuning_queries(judged)
    origin = variant(start)
    base_engine = SearchEngine(index, cache_entries=0, policy=origin)
    base, base_mrr_recall = baseline(start or "current policy", base_engine, queries, judged, known)
    for spec in specs:
        name, values = spec.split("=", 1)
        expanded = [f"{name}={raw}" for raw in values.split(",")] if "&" not in spec else [spec]
        for one in expanded:
            engine_variant = SearchEngine(index, cache_entries=0, policy=variant(one, origin))
            ranked = top10s(engine_variant, queries)
            row(one, base, base_mrr_recall, engine_variant, ranked, queries, judged, known, show)


def baseline(label: str, engine: SearchEngine, queries: list[dict], judged, known) -> tuple[dict, tuple]:
    """Measure and print the starting point: (query id -> nDCG@10, (known-item MRR, typo recall@10))."""
    ranked = top10s(engine, queries)
    base = per_query(ranked, queries, judged)
    mrr = known_item_mrr(engine, known)
    unjudged, recall = unjudged_and_typo_recall(ranked, queries, judged)
    print(f"{label}, tuning half ({len(queries)} queries): nDCG@10 {sum(base.values()) / len(base):.4f}")
    print(f"unjudged in top 10s {unjudged:.3f}, typo recall@10 {recall:.3f}, known-item MRR {mrr:.3f}")
    print(
        f"{'variant':40}{'mean':>8}{'delta':>8}{'95% CI':>18}{'up':>4}{'down':>5}{'p':>7}"
        "  per type / known MRR, typo recall, unjudged"
    )
    return base, (mrr, recall)


def row(label, base, base_mrr_recall, engine, ranked, queries, judged, known, show=False) -> None:
    """Print one variant's line against ``base`` (and, with ``show``, every query it moved)."""
    base_mrr, base_recall = base_mrr_recall
    scores = per_query(ranked, queries, judged)
    s = paired(base, scores)
    types = " ".join(f"{t[:3]} {_type_delta(base, scores, queries, t):+.3f}" for t in TYPES)
    types += f" new {_type_delta(base, scores, [q for q in queries if q.get('set') == 'tuning'], None):+.3f}"
    mrr = known_item_mrr(engine, known)
    unjudged, recall = unjudged_and_typo_recall(ranked, queries, judged)
    print(
        f"{label:40}{sum(scores.values()) / len(scores):8.4f}{s['mean']:+8.4f}"
        f"  [{s['low']:+.3f}, {s['high']:+.3f}]{s['up']:4}{s['down']:5}{s['p']:7.3f}"
        f"  {types}  MRR {mrr - base_mrr:+.3f} recall {recall - base_recall:+.3f} unjudged {unjudged:.3f}",
        flush=True,
    )
    if show:
        for q in queries:
            d = scores[q["id"]] - base[q["id"]]
            if abs(d) > 1e-9:
                print(f"    {d:+.3f} {q['id']} {q['type']:8} {q['query']}")


def _type_delta(base: dict[str, float], scores: dict[str, float], queries: list[dict], kind: str | None) -> float:
    """The mean change over the queries of one type (``None``: all of ``queries``)."""
    ids = [q["id"] for q in queries if kind in (None, q["type"])]
    return sum(scores[i] - base[i] for i in ids) / len(ids) if ids else 0.0


if __name__ == "__main__":
    main(sys.argv[1:])
