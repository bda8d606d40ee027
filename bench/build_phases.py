"""Where a full build's time goes: reading, merging, writing, deriving (in-process, run on demand).

    python bench/build_phases.py --corpus /tmp/nb/corpus20k --index /tmp/nb/phases [--writer bulk] [--warm]

Cold by default (the index folder is removed first); ``--warm`` keeps its record cache
(``index/records.cache``, written by the previous run), as a rebuild over an existing index has.

Wraps the steps of ``indexer.build.full_build`` (and event clustering, ``stories``, a part of
deriving) with timers and prints, per step, wall seconds
and the CPU seconds of this process (worker processes show in the children's total at the end:
reading and the bulk writer run in forked workers).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer import build, bulk_build, record_cache, stories  # noqa: E402

# "group": grouping the records by URL; each writer merges its own documents (within "write")
STEPS = {"read": "read_seed_files", "group": "MergedDocuments", "write": "write_documents", "derive": "write_derived"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--writer", default="bulk", choices=("bulk", "document"))
    parser.add_argument("--warm", action="store_true", help="keep the index folder's record cache")
    args = parser.parse_args()
    os.environ[bulk_build.WRITER_ENV] = args.writer
    cache = args.index / record_cache.CACHE_NAME
    kept = cache.read_bytes() if args.warm and cache.is_file() else None
    shutil.rmtree(args.index, ignore_errors=True)
    if kept is not None:
        args.index.mkdir(parents=True)
        cache.write_bytes(kept)
    times: dict[str, tuple[float, float]] = {}

    def timed(name: str, fn):
        def wrapper(*a, **k):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                times[name] = (time.perf_counter() - wall, time.process_time() - cpu)

        return wrapper

    for name, attr in STEPS.items():
        setattr(build, attr, timed(name, getattr(build, attr)))
    stories.full = timed("stories", stories.full)  # event clustering, inside derive
    start = time.perf_counter()
    report = build.full_build(args.corpus, args.index)
    print(report.summary())
    for name, (wall, cpu) in times.items():
        print(f"{name:7s} {wall:7.1f} s wall  {cpu:7.1f} s CPU (this process)")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(f"total   {time.perf_counter() - start:7.1f} s wall; CPU {me.ru_utime + me.ru_stime:.1f} s here,")
    worker_cpu = children.ru_utime + children.ru_stime
    print(f"        {worker_cpu:.1f} s in workers; peak RSS {me.ru_maxrss / 1024:.0f} MiB here,")
    print(f"        {children.ru_maxrss / 1024:.0f} MiB in the largest worker; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
