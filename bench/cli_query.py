"""``search-cli query`` start to finish: wall time, CPU time and peak memory per run (run on demand, not in CI).

    python bench/cli_query.py --index /tmp/nb/index20k [--runs 5] [--code /tmp/old --code .]

Each query runs ``--runs`` times as a fresh process (the page cache warm, as on a machine where
the index is in use; Python's bytecode written by an untimed first run, as an installed package
has it: ``bench.user_env``); prints the median and worst wall time, the median CPU time (user +
system: what a shared, loaded machine moves least) and the peak RSS per query, beside
``search-cli --help``. With ``--code`` given more than once, each checkout (put first on
PYTHONPATH) runs in turn, run by run, so old and new code see the same minutes of load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import user_env

QUERIES = (["police"], ["facial", "recognition"], ["cloud", "computing", "security"], ["--sort", "newest", "privacy"])


def run(args: list[str], code: Path | None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one ``search-cli`` process."""
    env = user_env()
    if code is not None:
        env["PYTHONPATH"] = str(code)
    command = [str(Path(sys.executable).parent / "search-cli"), *args]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--code", type=Path, action="append", help="a checkout to run (repeat to alternate)")
    args = parser.parse_args()
    codes = args.code or [None]
    cases = [("--help", ["--help"])]
    cases += [(" ".join(q), ["--index", str(args.index), "query", *q]) for q in QUERIES]
    print(f"{'':34}{'median s':>10}{'worst s':>10}{'CPU s':>8}{'peak RSS MiB':>14}  code")
    for name, command in cases:
        for code in codes:
            run(command, code)  # untimed: writes the bytecode and warms the page cache
        runs: dict[Path | None, list[tuple[float, float, float]]] = {code: [] for code in codes}
        for _ in range(args.runs):
            for code in codes:
                runs[code].append(run(command, code))
        for code in codes:
            walls, cpus, rss = zip(*runs[code], strict=True)
            print(
                f"{name:34}{statistics.median(walls):10.2f}{max(walls):10.2f}{statistics.median(cpus):8.3f}"
                f"{max(rss):14.0f}  {code or ''}"
            )


if __name__ == "__main__":
    main()
