"""Other embedding models for the semantic rule, against the shipped one, on the TUNING half only.

    python eval/models.py FOLDER_OR_NAME [...]          # each model in place of all-MiniLM-L6-v2
    python eval/models.py --adapt OUT [--epochs 3] [--per-file first|all] [--lr 2e-5]

The first form indexes the evaluation collection once per model (the rule and the policy as they
ship) and compares each with the default model query by query, as ``eval/compare.py`` compares
policy variants (same columns, same keep rule). It is the experiment docs/relevance.md leaves for a
machine that can fetch a stronger model: hand it the model's folder.

``--adapt`` writes a copy of the default model adapted to the collection (the thirteenth pass's
trial): each item's title is trained to find its own excerpt among a batch's (in-batch negatives,
scale 20, linear warm-up and decay). It reads only the collection's items: no query, judgment or
``related:`` list. ``--per-file first`` (the default) trains on one item per seed file, because a
file's items cover one story and would otherwise be pushed apart as negatives. Needs the semantic
extra (PyTorch); the model is seeded, so a run on the same machine gives the same copy.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.build_sets import collection_folder, read  # noqa: E402
from eval.compare import baseline, row, top10s  # noqa: E402
from eval.graded import load_judgments, open_collection, tuning_queries  # noqa: E402
from eval.run import load  # noqa: E402
from indexer import embedder  # noqa: E402

BATCH = 32
SCALE = 20.0  # sentence-transformers' MultipleNegativesRankingLoss default
SEED = 7


def pairs(per_file: str) -> list[tuple[str, str]]:
    """(title, excerpt) of the collection's items: the first of each seed file's, or all of them, once each."""
    folder = collection_folder()
    try:
        files = read(folder)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for f in files:
        usable = [r for r in f.records if r.title and r.excerpt and r.title.strip() != r.excerpt.strip()]
        for r in usable[:1] if per_file == "first" else usable:
            if r.key not in seen:
                seen.add(r.key)
                out.append((r.title, r.excerpt))
    return out


def adapt(out: Path, epochs: int, per_file: str, lr: float) -> None:
    """Train a copy of the default model on the collection's own (title, excerpt) pairs and save it to ``out``."""
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    data = pairs(per_file)
    model = SentenceTransformer(embedder._location(embedder.MINILM), device="cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = epochs * -(-len(data) // BATCH)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )

    def embed(texts: list[str]):
        return F.normalize(model(model.tokenize(texts))["sentence_embedding"], dim=-1)

    model.train()
    for epoch in range(epochs):
        rng.shuffle(data)
        for start in range(0, len(data), BATCH):
            batch = data[start : start + BATCH]
            logits = embed([t for t, _ in batch]) @ embed([e for _, e in batch]).T * SCALE
            loss = F.cross_entropy(logits, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}: {len(data)} pairs, last batch loss {loss.item():.3f}", flush=True)
    model.eval()
    model.save(str(out))


def compare(models: list[str]) -> None:
    judged, known = load_judgments(), load("known_item")
    queries = tuning_queries(judged)
    engine, folder = open_collection("default")
    try:
        base, base_mrr_recall = baseline(embedder.MINILM, engine, queries, judged, known)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    for name in models:
        engine, folder = open_collection(name)
        try:
            row(Path(name).name, base, base_mrr_recall, engine, top10s(engine, queries), queries, judged, known)
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="model folders or names to compare with the default")
    parser.add_argument("--adapt", type=Path, metavar="OUT", help="write the default model adapted to the collection")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--per-file", choices=("first", "all"), default="first")
    parser.add_argument("--lr", type=float, default=2e-5)
    args = parser.parse_args()
    if args.adapt:
        adapt(args.adapt, args.epochs, args.per_file, args.lr)
    if args.models:
        compare(args.models)
    elif not args.adapt:
        parser.error("name a model to compare, or --adapt OUT")


if __name__ == "__main__":
    main()
