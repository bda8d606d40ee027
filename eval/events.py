"""Stories against the blind "same event?" labels: the old related-list stories beside the index's event stories.

    python eval/events.py                 # both halves of eval/data/event_pairs.jsonl

Pairwise precision (of the pairs put in one story, the share that are one event) and recall (of
the pairs that are one event, the share put in one story), each pair weighted by the pairs of the
collection it stands for (``weight``, see eval/event_pairs.py), so the figures estimate all pairs.
The event stories are the ones the index build persisted (``indexer.stories``), as the page groups by.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.graded import open_collection  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def load() -> list[dict]:
    labels = {}
    for line in (DATA / "event_labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        labels[row["id"]] = row["same"]
    pairs = [json.loads(line) for line in (DATA / "event_pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{**p, "same": labels[p["id"]]} for p in pairs]


def score(same_story: Callable[[str, str], bool], pairs: list[dict], half: str) -> tuple[float, float]:
    tp = fp = fn = 0.0
    for p in pairs:
        if p["half"] != half:
            continue
        together = same_story(p["a"], p["b"])
        tp += p["weight"] * (together and p["same"])
        fp += p["weight"] * (together and not p["same"])
        fn += p["weight"] * (p["same"] and not together)
    return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)


def main() -> None:
    engine, folder = open_collection()
    stored = {d["key"]: d for d in engine.stored_documents()}
    pairs = load()
    clustered = {key: d["story"] for key, d in stored.items()}
    listed = {key: (d.get("parents") or [key])[0] for key, d in stored.items()}  # the old story: the first list
    systems = {
        "related-list stories (old)": lambda a, b: listed[a] == listed[b],
        "event stories (index)": lambda a, b: clustered[a] == clustered[b],
    }
    print(f"{len(pairs)} judged pairs ({sum(p['same'] for p in pairs)} same event), {len(stored)} documents")
    print(f"{'':32}{'tuning P':>10}{'R':>7}{'held-out P':>12}{'R':>7}")
    for name, same in systems.items():
        (tp, tr), (hp, hr) = score(same, pairs, "tuning"), score(same, pairs, "held-out")
        print(f"{name:32}{tp:10.3f}{tr:7.3f}{hp:12.3f}{hr:7.3f}")
    sizes = sorted((sum(1 for s in clustered.values() if s == k) for k in set(clustered.values())), reverse=True)
    print(f"event clustering: {len(set(clustered.values()))} stories, largest {sizes[:5]}")
    shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
