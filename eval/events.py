"""Stories against the blind "same event?" labels: the related-list stories beside event clustering.

    python eval/events.py                 # both halves of eval/data/event_pairs.jsonl

Pairwise precision (of the pairs put in one story, the share that are one event) and recall (of
the pairs that are one event, the share put in one story), each pair weighted by the pairs of the
collection it stands for (``weight``, see eval/event_pairs.py), so the figures estimate all pairs.
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
from indexer import events  # noqa: E402
from indexer.analysis import analyze  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def load() -> list[dict]:
    labels = {}
    for line in (DATA / "event_labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        labels[row["id"]] = row["same"]
    pairs = [json.loads(line) for line in (DATA / "event_pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{**p, "same": labels[p["id"]]} for p in pairs]


def item(stored: dict) -> events.EventItem:
    title, excerpt = stored.get("title", ""), stored.get("excerpt", "")
    return events.EventItem(
        key=stored["key"],
        published=stored.get("published"),
        words=frozenset(analyze(f"{title} {excerpt}")),
        title_words=frozenset(analyze(title)),
        lists=frozenset([*(stored.get("parents") or []), stored["key"]]),
    )


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
    clustered = events.stories(item(d) for d in stored.values())
    systems = {
        "related-list stories (today)": lambda a, b: stored[a].get("story") == stored[b].get("story"),
        "event clustering": lambda a, b: clustered[a] == clustered[b],
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
