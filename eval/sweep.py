"""One-at-a-time parameter sweeps on the judged sets (the tuning history in docs/relevance.md).

    python eval/sweep.py                       # every sweep below
    python eval/sweep.py scorer.K1=0.9,1.2,2   # one parameter: module.NAME=v1,v2,...

Each value is set on the running modules, a fresh engine opens the same index, and the
engine's story / hand / known-item metrics are printed for it (flat ranking, as in run.py).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.build_sets import collection_folder  # noqa: E402
from eval.run import engine_rank, evaluate, load  # noqa: E402
from indexer import build  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

SWEEPS = [
    "query.FIELD_BOOSTS[title]=1.5,2,2.5,3.5",
    "query.FIELD_BOOSTS[provider_text]=0,0.5,1",
    "scorer.K1=0.9,1.2,1.5,2",
    "scorer.FIELD_B[title]=0.3,0.5,0.75",
    "ranking.QUALITY_WEIGHT=0,0.1,0.25,0.5",
    "engine.TITLE_ALL_WORDS_BOOST=0,0.75,1.5,3",
    "engine.STORY_BOOST=0,0.1,0.25,0.5,1",
    "engine.FILL_BELOW=0,10,1000000",
]


def _target(spec: str):
    """(object, key, is_item) for 'module.NAME' or 'module.NAME[key]'."""
    name, _, key = spec.partition("[")
    module_name, attr = name.split(".")
    module = importlib.import_module(f"search.{module_name}")
    if key:
        return getattr(module, attr), key.rstrip("]"), True
    return module, attr, False


def main(specs: list[str]) -> None:
    folder = collection_folder()
    index = folder.parent / "index"
    build.full_build(folder, index)
    graded = {"story": load("story"), "hand": load("hand")}
    known = load("known_item")
    shown = ("story nDCG@10", "hand nDCG@10", "hand recall@10", "known-item MRR")
    print(f"{'setting':44}" + "".join(f"{m:>16}" for m in shown))
    for spec in specs:
        lhs, values = spec.split("=")
        obj, key, is_item = _target(lhs)
        saved = obj[key] if is_item else getattr(obj, key)
        for raw in values.split(","):
            value = type(saved)(float(raw)) if isinstance(saved, (int, float)) else raw
            if is_item:
                obj[key] = value
            else:
                setattr(obj, key, value)
            engine = SearchEngine(index, cache_entries=0)
            scores = evaluate(lambda q, ex, e=engine: engine_rank(e, q, ex), graded, known)
            mark = " (current)" if value == saved else ""
            print(f"{lhs + '=' + raw + mark:44}" + "".join(f"{scores[m]:16.3f}" for m in shown))
        if is_item:
            obj[key] = saved
        else:
            setattr(obj, key, saved)


if __name__ == "__main__":
    main(sys.argv[1:] or SWEEPS)
