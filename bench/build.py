"""Time full builds as a user runs them, bulk writer beside Whoosh's per-document writer (on demand).

    python bench/build.py --corpus /tmp/nb/corpus20k --out /tmp/nb/builds [--writers bulk,document]

Runs ``search-cli index --full -q`` once per writer (``SEARCH_BUILD_WRITER``) into a fresh
index under --out, each under ``/usr/bin/time -v`` (wall clock with start-up, CPU seconds of the
command and its worker processes, peak RSS of the largest process), and prints one row per
writer. The machine's load average is printed before each run: other work on the machine
slows every figure, so compare the rows of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("search-cli")


def timed_build(corpus: Path, index: Path, writer: str) -> dict[str, str]:
    shutil.rmtree(index, ignore_errors=True)
    env = {**os.environ, "SEARCH_BUILD_WRITER": writer, "PYTHONPATH": str(ROOT)}
    command = ["/usr/bin/time", "-v", str(CLI), "--index", str(index), "--seeds", str(corpus), "index", "--full", "-q"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 4:29.73": keys hold colons, never ": "
    fields = dict(line.strip().split(": ", 1) for line in done.stderr.splitlines() if ": " in line)
    return {
        "summary": done.stdout.strip(),
        "wall": fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"],
        "cpu": f"{float(fields['User time (seconds)']) + float(fields['System time (seconds)']):.1f}",
        "rss_mib": f"{int(fields['Maximum resident set size (kbytes)']) / 1024:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--writers", default="bulk,document")
    args = parser.parse_args()
    print("| writer | wall (m:ss) | CPU s (all processes) | peak RSS MiB | load before | report |")
    print("| --- | --- | --- | --- | --- | --- |")
    for writer in args.writers.split(","):
        load = os.getloadavg()[0]
        row = timed_build(args.corpus, args.out / writer, writer)
        cells = [writer, row["wall"], row["cpu"], row["rss_mib"], f"{load:.1f}", row["summary"]]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
