"""``search-cli query`` start to finish: wall time and peak memory per run (run on demand, not in CI).

    python bench/cli_query.py --index /tmp/nb/index20k [--runs 5]

Each query runs ``--runs`` times as a fresh process (the page cache warm, as on a machine where
the index is in use; Python's bytecode written by an untimed first run, as an installed package
has it: ``bench.user_env``); prints the median and worst wall time and the peak RSS per query,
beside ``search-cli --help``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import user_env

QUERIES = (["police"], ["facial", "recognition"], ["cloud", "computing", "security"], ["--sort", "newest", "privacy"])


def run(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one ``search-cli`` process."""
    started = time.perf_counter()
    command = [str(Path(sys.executable).parent / "search-cli"), *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=user_env())
    wall = time.perf_counter() - started
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cases = [("--help", ["--help"])]
    cases += [(" ".join(q), ["--index", str(args.index), "query", *q]) for q in QUERIES]
    print(f"{'':34}{'median s':>10}{'worst s':>10}{'peak RSS MiB':>14}")
    for name, command in cases:
        run(command)  # untimed: writes the bytecode and warms the page cache
        runs = [run(command) for _ in range(args.runs)]
        walls = [wall for wall, _ in runs]
        # RUSAGE_CHILDREN keeps the largest child so far: --help runs first, then queries
        print(f"{name:34}{statistics.median(walls):10.2f}{max(walls):10.2f}{runs[-1][1]:14.0f}")


if __name__ == "__main__":
    main()
