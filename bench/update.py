"""Time incremental updates of a handful of files against a full build (run on demand, not in CI).

    python bench/update.py --corpus /tmp/corpus20k --index /tmp/ix20k [--files 10] [--rounds 5] [--cli]

With --cli each update is timed as a user runs it: the wall clock of a ``search-cli index``
process, start-up included (otherwise ``incremental.update`` inside this process); its CPU time
(user + system) is printed beside it, the figure to compare on a loaded machine.

Generates the corpus with ../shared/tools/make_corpus.py when --corpus does not exist, builds
the index fully when --index does not exist, then runs --rounds updates that each change
--files seed files (a quality change, a new excerpt word, a new related item), plus one
update that adds and one that removes a file. Prints the timings.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import user_env  # noqa: E402
from indexer import build, incremental  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.request import build_request  # noqa: E402

MAKE_CORPUS = ROOT.parent / "shared" / "tools" / "make_corpus.py"


def ensure_corpus(corpus: Path, articles: int) -> None:
    if corpus.exists():
        return
    print(f"generating {articles} articles into {corpus} ...", flush=True)
    subprocess.run([sys.executable, str(MAKE_CORPUS), str(corpus), "--articles", str(articles)], check=True)


def change_file(path: Path, rng: random.Random, round_no: int) -> None:
    text = path.read_text(encoding="utf-8")
    # a new quality value (replacing it, so repeated rounds keep it in range)
    text = re.sub(r"(?m)^(\s*quality:\s*)-?\d+", lambda m: f"{m.group(1)}{rng.randint(0, 100)}", text, count=1)
    marker = f"benchword{round_no}x{rng.randint(0, 10**6)}"
    text = text.replace('excerpt: "', f'excerpt: "{marker} ', 1)
    path.write_text(text, encoding="utf-8")


def _cpu_seconds(children: bool) -> float:
    """User + system CPU of this process, or of its finished children (a loaded machine stretches wall time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cli_update(
    corpus: Path, index: Path, code: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """(wall, CPU, summary) of one ``search-cli index`` process run from ``code``: what a user waits for.

    Python may write bytecode, as an installed package has it (``bench.user_env``).
    """
    if env is None:
        env = user_env()
    started, cpu = time.perf_counter(), _cpu_seconds(True)
    command = [sys.executable, "-m", "web.cli", "--index", str(index), "--seeds", str(corpus), "index"]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=code, env=env).stdout.strip()
    return time.perf_counter() - started, _cpu_seconds(True) - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/news-bench/corpus20k"))
    parser.add_argument("--index", type=Path, default=Path("/tmp/news-bench/index20k"))
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cli", action="store_true", help="time the search-cli command, start-up included")
    parser.add_argument("--seed", type=int, default=7, help="which files change (another seed: other files)")
    args = parser.parse_args()

    ensure_corpus(args.corpus, args.articles)
    files = sorted(args.corpus.rglob("*.md"))
    if not (args.index / "CURRENT").exists():
        report = build.full_build(args.corpus, args.index)
        print(
            f"full build: {report.documents:,} documents from {len(files):,} files in {report.seconds:.1f}s "
            f"({report.documents / report.seconds:,.0f} docs/s)"
        )
    rng = random.Random(args.seed)
    times, cpus = [], []
    for round_no in range(args.rounds):
        for path in rng.sample(files, args.files):
            change_file(path, rng, round_no)
        if args.cli:
            wall, cpu, summary = cli_update(args.corpus, args.index)
        else:
            started, before = time.perf_counter(), _cpu_seconds(False)
            summary = incremental.update(args.corpus, args.index).summary()
            wall, cpu = time.perf_counter() - started, _cpu_seconds(False) - before
        times.append(wall)
        cpus.append(cpu)
        print(f"round {round_no + 1}: {times[-1]:.2f}s wall, {cpus[-1]:.2f}s CPU: {summary}", flush=True)
    print(
        f"update of {args.files} changed files: median {statistics.median(times):.2f}s, max {max(times):.2f}s"
        f" (CPU: median {statistics.median(cpus):.2f}s, max {max(cpus):.2f}s)"
    )

    new = args.corpus / "zz-bench-added.md"
    text = files[0].read_text(encoding="utf-8")
    new.write_text(text.replace('webUrl: "', 'webUrl: "https://bench.example/added?from=', 1), encoding="utf-8")
    report = incremental.update(args.corpus, args.index)
    print(f"add one file: {report.summary()}")
    new.unlink()
    report = incremental.update(args.corpus, args.index)
    print(f"remove one file: {report.summary()}")
    started = time.perf_counter()
    engine = SearchEngine(args.index)
    engine.search(build_request("ai"))
    took = time.perf_counter() - started
    print(f"open the new generation (facet arrays, live statistics) and first query: {took:.2f}s")


if __name__ == "__main__":
    main()
