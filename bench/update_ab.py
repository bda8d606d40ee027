"""Two checkouts' `search-cli index` updates side by side, on two copies of one corpus and index (run on demand).

    python bench/update_ab.py --corpus /tmp/corpus20k --index /tmp/ix20k --work /tmp/ab \\
        --old /work/main --new /work/wt17 [--files 10] [--rounds 12]

Copies the corpus and index twice into --work (once per checkout), then each round changes the same
--files seed files in both copies (as bench/update.py does) and runs each checkout's ``search-cli
index`` on its copy, alternating which goes first; prints wall and CPU (user + system) seconds of
each command. On a loaded machine wall times stretch; the two commands of one round run one right
after the other, so they saw about the same load. An existing --work folder is reused as it is (said
on stderr): its copies carry the earlier runs' updates, so give a fresh folder for a fresh start.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from update import change_file, cli_update


def run(code: Path, corpus: Path, index: Path) -> tuple[float, float, str]:
    """(wall, CPU, summary) of one ``search-cli index`` with ``code`` first on the import path."""
    return cli_update(corpus, index, code, env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--old", type=Path, required=True, help="checkout of the code to compare against")
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--start", type=int, default=0, help="first round's number (another: other files, new words)")
    args = parser.parse_args()

    sides = {}
    for name, code in (("old", args.old), ("new", args.new)):
        corpus, index = args.work / name / "corpus", args.work / name / "index"
        if not corpus.exists():
            shutil.copytree(args.corpus, corpus, symlinks=True)
            shutil.copytree(args.index, index, symlinks=True)
        else:
            print(f"reusing {corpus} and {index} as earlier runs left them", file=sys.stderr)
        sides[name] = (code.resolve(), corpus, index)
    names = sorted(p.relative_to(sides["old"][1]) for p in sides["old"][1].rglob("*.md"))
    results: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for round_no in range(args.start, args.start + args.rounds):
        for _code, corpus, _index in sides.values():
            rng = random.Random(1000 + round_no)  # the same files, the same changes, on both sides
            for rel in rng.sample(names, args.files):
                change_file(corpus / rel, rng, round_no)
        order = ["old", "new"] if round_no % 2 == 0 else ["new", "old"]
        line = []
        for name in order:
            wall, cpu, summary = run(*sides[name])
            results[name].append((wall, cpu))
            line.append(f"{name} {wall:.2f}s wall {cpu:.2f}s CPU ({summary.split(' in ')[0].split('; ')[-1]})")
        print(f"round {round_no + 1}: " + " | ".join(line), flush=True)
    for name, rows in results.items():
        walls, cpus = [w for w, _ in rows], [c for _, c in rows]
        print(
            f"{name}: wall median {statistics.median(walls):.2f}s max {max(walls):.2f}s;"
            f" CPU median {statistics.median(cpus):.2f}s max {max(cpus):.2f}s"
        )


if __name__ == "__main__":
    main()
