"""The semantic rule against words alone, per half and pooled over the held-out halves, with intervals.

    python eval/pooled.py        # needs the semantic extra (the collection is embedded)

For each half, and pooled for fresh2 + fresh3, for the clean sets run once each (fresh3-5) and for
every held-out half: the paired change of flat nDCG@10 from words alone (``semantic_weight`` 0, the
same index) to the rule, as ``eval/compare.py`` reports one (mean, bootstrap 95% interval, queries
up / down, randomization p), and each engine's ratio to the best plain-BM25 baseline of that group
with a bootstrap 95% interval (queries resampled); then per-type means of every system for the
pooled groups and the newest sets (docs/relevance.md, tenth and eleventh rounds). It reads the
held-out halves: a report, never a place to choose a change.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import baselines  # noqa: E402
from eval.compare import SEED, paired  # noqa: E402
from eval.graded import HALVES, TYPES, engine_rank, load_judgments, load_queries, open_collection, scored  # noqa: E402
from eval.metrics import ndcg_at_k  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

RESAMPLES = 5_000


def main() -> None:
    engine, folder = open_collection()
    if engine.generation().vectors is None:
        raise SystemExit("needs the semantic extra: pip install -e '.[semantic]'")
    words = SearchEngine(
        engine.index_dir, cache_entries=0, policy=dataclasses.replace(engine.policy, semantic_weight=0)
    )
    judged = load_judgments()
    queries = scored(load_queries(), judged)
    with tempfile.TemporaryDirectory() as tmp:
        systems = dict(baselines.build_all(engine, Path(tmp)))
        systems["engine, semantic"] = lambda q, k: engine_rank(engine, q, k)
        systems["engine, words"] = lambda q, k: engine_rank(words, q, k)
        per = {
            name: {
                q["id"]: ndcg_at_k(rank(q["query"], 10), {k: float(g) for k, g in judged[q["id"]].items()})
                for q in queries
            }
            for name, rank in systems.items()
        }
    shutil.rmtree(folder.parent, ignore_errors=True)
    groups = {h: [q["id"] for q in queries if q["half"] == h] for h in HALVES}
    groups["fresh2 + fresh3"] = groups["fresh2"] + groups["fresh3"]
    groups["clean: fresh3-5"] = groups["fresh3"] + groups["fresh4"] + groups["fresh5"]  # each run once
    groups["clean: fresh3-5, fresh7"] = groups["clean: fresh3-5"] + groups["fresh7"]  # the twelfth round's rule (b)
    groups["clean: fresh3-5, 7, 8"] = groups["clean: fresh3-5, fresh7"] + groups["fresh8"]  # the fifteenth pass's (b)
    groups["fresh8 + fresh9"] = groups["fresh8"] + groups["fresh9"]  # the sixteenth pass's (a2)
    groups["clean: fresh3-5, 7, 8, 9"] = groups["clean: fresh3-5, 7, 8"] + groups["fresh9"]  # ... and its (b)
    groups["all held-out"] = [q["id"] for q in queries if q["half"] != "tuning"]
    kind = {q["id"]: q["type"] for q in queries}
    plain = [n for n in systems if not n.startswith("engine")]
    rng = random.Random(SEED)

    def ratio(ids: list[str], name: str) -> str:
        best = max(plain, key=lambda n: np.mean([per[n][i] for i in ids]))
        point = np.mean([per[name][i] for i in ids]) / np.mean([per[best][i] for i in ids])
        draws = []
        for _ in range(RESAMPLES):
            sample = [rng.choice(ids) for _ in ids]
            draws.append(np.mean([per[name][i] for i in sample]) / np.mean([per[best][i] for i in sample]))
        return f"{point:.3f}x [{np.percentile(draws, 2.5):.3f}, {np.percentile(draws, 97.5):.3f}] of {best}"

    for group, ids in groups.items():
        change = paired({i: per["engine, words"][i] for i in ids}, {i: per["engine, semantic"][i] for i in ids})
        print(
            f"{group} ({len(ids)}): {change['mean']:+.4f} [{change['low']:+.3f}, {change['high']:+.3f}]"
            f" up {change['up']} down {change['down']} p {change['p']:.3f}; semantic {ratio(ids, 'engine, semantic')};"
            f" words {ratio(ids, 'engine, words')}"
        )
    for group in (
        "fresh2 + fresh3",
        "fresh4",
        "fresh5",
        "clean: fresh3-5",
        "fresh6",
        "fresh7",
        "clean: fresh3-5, fresh7",
        "fresh8",
        "clean: fresh3-5, 7, 8",
        "fresh9",
        "fresh8 + fresh9",
        "clean: fresh3-5, 7, 8, 9",
        "all held-out",
    ):
        ids = groups[group]
        print(f"\n{group}, per type ({', '.join(f'{t} {sum(kind[i] == t for i in ids)}' for t in TYPES)} queries)")
        for name in systems:
            means = [[per[name][i] for i in ids if kind[i] == t] for t in TYPES]
            print(
                f"  {name:20}"
                + "".join(f"{np.mean(m):8.3f}" if m else f"{'-':>8}" for m in means)
                + f"   all {np.mean([per[name][i] for i in ids]):.3f}"
            )


if __name__ == "__main__":
    main()
