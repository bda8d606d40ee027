"""One-at-a-time parameter sweeps on the TUNING half of the graded set (never the held-out half).

    python eval/sweep.py                       # every sweep below
    python eval/sweep.py story_boost=0,0.25 boosts.provider_text=0,0.5

Each value replaces one field of the ranking policy (search.ranking), a fresh engine opens the same index
and the engine's flat nDCG@10 per query type on the tuning half is printed, with known-item MRR.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from types import MappingProxyType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.graded import TYPES, engine_rank, load_judgments, open_collection, tuning_queries  # noqa: E402
from eval.metrics import reciprocal_rank  # noqa: E402
from eval.run import graded_table, load  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.ranking import POLICY, RankingPolicy  # noqa: E402

SWEEPS = [
    "coordination=count,idf",
    "story_boost=0,0.1,0.25",
    "title_all_words_boost=0,0.75,1.5",
    "quality_weight=0,0.1,0.25",
]


def policy_variant(name: str, raw: str, base: RankingPolicy = POLICY) -> RankingPolicy:
    """``base`` (the current policy) with one field set from text ('story_boost', '0.1'; 'boosts.title', '2')."""
    field, _, key = name.partition(".")
    old = getattr(base, field)
    if key:  # one entry of a mapping field
        value = MappingProxyType({**old, key: float(raw)})
    else:
        value = raw if isinstance(old, str) else type(old)(float(raw))
    return dataclasses.replace(base, **{field: value})


def main(specs: list[str]) -> None:
    index = open_collection()[0].index_dir
    judged = load_judgments()
    queries = tuning_queries(judged)
    known = load("known_item")
    print(f"{'setting':48}" + "".join(f"{t:>10}" for t in (*TYPES, "all", "known MRR")))
    for spec in specs:
        name, values = spec.split("=")
        for raw in values.split(","):
            e = SearchEngine(index, cache_entries=0, policy=policy_variant(name, raw))
            cell = graded_table({"e": lambda q, k, e=e: engine_rank(e, q, k)}, queries, judged)["e"]["tuning"]
            mrr = sum(reciprocal_rank(engine_rank(e, r["query"]), {r["expected"]}) for r in known) / len(known)
            print(f"{name + '=' + raw:48}" + "".join(f"{cell[t]:10.3f}" for t in (*TYPES, "all")) + f"{mrr:10.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or SWEEPS)
