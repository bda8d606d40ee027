"""Pool the top 10 of every system for the graded queries, for blind judging.

    python eval/pool.py                # writes eval/data/pool.jsonl: the items not judged yet
    python eval/pool.py story_boost=0  # ... adding the engine under a policy variant (as eval/compare.py)
    python eval/pool.py "saturation=field&k1=1.2"   # ... fields changed together

TREC-style pooling: for each query of ``graded_queries.jsonl`` the top 10 of the engine (the
flat list, with and without prefix and typo expansion, and the grouped page), SQLite FTS5,
tantivy and bm25s are merged; items already in
``graded_judgments.jsonl`` are left out, so a later run (after a ranking change) pools only
what is new. The pool file never says which system returned an item: each query's items are
in an order given by a hash of their key, and carry only what an assessor reads (title,
excerpt, provider, date).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import baselines  # noqa: E402
from eval.compare import variant  # noqa: E402
from eval.graded import engine_rank, load_judgments, load_queries, open_collection, page_rank  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
DEPTH = 10


def main(variants: list[str]) -> None:
    engine, folder = open_collection()
    queries = load_queries()
    judged = load_judgments()
    with tempfile.TemporaryDirectory() as tmp:
        systems = {
            "engine": lambda q, k: engine_rank(engine, q, k),
            "engine, words as typed": lambda q, k: engine_rank(engine, q, k, prefix=False, typos=False),
            "engine page": lambda q, k: page_rank(engine, q, k),
            **baselines.build_all(engine, Path(tmp)),
        }
        for spec in variants:
            other = SearchEngine(engine.index_dir, cache_entries=0, policy=variant(spec))
            systems[f"engine, {spec}"] = lambda q, k, e=other: engine_rank(e, q, k)
        stored = {f["key"]: f for f in engine.stored_documents()}
        out, new = [], 0
        for row in queries:
            keys: set[str] = set()
            for rank in systems.values():
                keys.update(rank(row["query"], DEPTH))
            keys -= set(judged.get(row["id"], {}))
            if not keys:
                continue
            items = sorted(keys, key=lambda k: hashlib.sha1(f"{row['id']} {k}".encode()).hexdigest())
            out.append(
                {
                    "id": row["id"],
                    "query": row["query"],
                    "need": row["need"],
                    "items": [_item(stored[k]) for k in items],
                }
            )
            new += len(items)
    with open(DATA / "pool.jsonl", "w", encoding="utf-8") as fh:
        for row in out:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{new} unjudged items over {len(out)} queries ({', '.join(systems)}) -> {DATA / 'pool.jsonl'}")
    shutil.rmtree(folder.parent, ignore_errors=True)


def write_parts(rows: list[dict], out_dir: Path, parts: int) -> None:
    """Split pool rows into ``parts`` files for as many assessors (``out_dir/aN/pool.jsonl``), whole queries each,
    the largest first, each to the lightest part."""
    split: list[list[dict]] = [[] for _ in range(parts)]
    sizes = [0] * parts
    for row in sorted(rows, key=lambda r: -len(r["items"])):
        i = sizes.index(min(sizes))
        split[i].append(row)
        sizes[i] += len(row["items"])
    for i, part in enumerate(split, 1):
        (out_dir / f"a{i}").mkdir(parents=True, exist_ok=True)
        with open(out_dir / f"a{i}" / "pool.jsonl", "w", encoding="utf-8") as fh:
            for row in sorted(part, key=lambda r: r["id"]):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{sum(sizes)} items over {len(rows)} queries; parts {sizes} -> {out_dir}")


def _item(stored: dict) -> dict:
    published = stored.get("published")
    return {
        "key": stored["key"],
        "title": stored.get("title", ""),
        "excerpt": stored.get("excerpt", ""),
        "provider": stored.get("provider", "") or stored.get("provider_domain", ""),
        "date": published.date().isoformat() if published else "",
    }


if __name__ == "__main__":
    main(sys.argv[1:])
