"""What event clustering costs in a full build and in a 10-file update (run on demand, not in CI).

    python bench/events.py --corpus /tmp/nb/wt14/corpus --index /tmp/nb/wt14/index [--files 10] [--rounds 5]

``--corpus`` must be the seed folder the index was built from (or a copy made with ``cp -a``, so
modification times match); its files are changed. Prints the clustering's wall and CPU seconds
in the full build of ``--index``'s documents (clustering them anew from the persisted posting
tables, as a build does) and in each update, beside the whole update's seconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.update import change_file  # noqa: E402
from indexer import generations, incremental, persisted, stories  # noqa: E402
from indexer.storage import Store  # noqa: E402


def timed(function, log: list[tuple[float, float]]):
    def run(*args):
        wall, cpu = time.perf_counter(), time.process_time()
        out = function(*args)
        log.append((time.perf_counter() - wall, time.process_time() - cpu))
        return out

    return run


def full_clustering(index: Path, repeats: int = 3) -> list[tuple[float, float]]:
    gen = generations.current_generation(index)
    data = persisted.load(gen)
    assert data is not None, "the index has no derived data of this format"
    store, log = Store(gen), []
    live, published = np.asarray(data.live), np.asarray(data.published)
    for _ in range(repeats):
        found = timed(stories.full, log)(store, live, published, data.postings)
    sizes = np.bincount(found.story[live])
    print(
        f"{int(live.sum()):,} live items: {int((sizes > 0).sum()):,} stories, "
        f"{int((sizes > 1).sum()):,} of 2+ items holding {int(sizes[sizes > 1].sum()):,}, largest {int(sizes.max())}"
    )
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    log = full_clustering(args.index)
    print("full clustering (wall s, CPU s): " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in log))
    files = sorted(args.corpus.rglob("*.md"))
    rng = random.Random(11)
    clustering: list[tuple[float, float]] = []
    stories.update = timed(stories.update, clustering)
    totals = []
    for round_no in range(args.rounds):
        for path in rng.sample(files, args.files):
            change_file(path, rng, round_no)
        started = time.perf_counter()
        report = incremental.update(args.corpus, args.index)
        totals.append(time.perf_counter() - started)
        wall, cpu = clustering[-1] if clustering else (float("nan"), float("nan"))
        print(f"round {round_no + 1}: {report.summary()}; clustering {wall:.3f}s wall, {cpu:.3f}s CPU")
    print(
        f"update of {args.files} files: clustering median {statistics.median(w for w, _ in clustering):.3f}s wall "
        f"({statistics.median(c for _, c in clustering):.3f}s CPU), max {max(w for w, _ in clustering):.3f}s; "
        f"whole update median {statistics.median(totals):.2f}s"
    )


if __name__ == "__main__":
    main()
