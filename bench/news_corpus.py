"""A news-like benchmark corpus: the real corpora tiled many times, each copy shifted in time.

    python bench/news_corpus.py OUT_DIR [--copies 173] [--shift-days 30]

``make_corpus.py`` (../shared/tools) writes word salad resampled from real text: every item
shares words with thousands of others, the worst case for event clustering. A real archive grows
differently: the same kinds of events come back month after month, each reported by several
outlets within days. This tiles the real seed files (tests/fixtures/corpus/artificial-intelligence,
the microsoft-power-apps base and seeds/: copies of ../shared's) ``--copies`` times; copy ``k`` moves every
``publishedDateTime`` by ``k * --shift-days`` days (a copy's events stay together, copies of one
event are weeks apart, so they never fall in one 7-day window) and puts ``/t<k>`` in front of
every URL's path, so every item's key is new. 596 documents per copy: the default gives 103,108,
about the size of the synthetic corpus, over 15 years (~140 items a week). Deterministic;
writes nothing but OUT_DIR.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (
    ("ai", ROOT / "tests" / "fixtures" / "corpus" / "artificial-intelligence"),
    ("pa", ROOT / "tests" / "fixtures" / "corpus" / "microsoft-power-apps" / "base"),
    ("seeds", ROOT / "seeds"),
)
DATE = re.compile(r"(publishedDateTime:\s*[\"']?)(\d{4}-\d{2}-\d{2})")
URL = re.compile(r"(https?://[^/\s\"'#?]+)")


def shifted(text: str, copy: int, shift_days: int) -> str:
    """The seed file's text as copy ``copy``: dates ``copy * shift_days`` later, URLs under ``/t<copy>``."""

    def date(match: re.Match) -> str:
        day = dt.date.fromisoformat(match.group(2)) + dt.timedelta(days=copy * shift_days)
        return match.group(1) + day.isoformat()

    return URL.sub(lambda m: f"{m.group(1)}/t{copy}", DATE.sub(date, text))


def seed_files() -> list[tuple[str, Path]]:
    """(relative output path, source file) of every seed file of the real corpora, in a fixed order."""
    found = []
    for name, root in SOURCES:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".md", ".txt") and path.name != "SOURCE.md" and path.is_file():
                found.append((f"{name}/{path.relative_to(root)}", path))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=173)
    parser.add_argument("--shift-days", type=int, default=30)
    args = parser.parse_args()
    files = seed_files()
    texts = [(rel, path.read_text(encoding="utf-8")) for rel, path in files]
    for copy in range(args.copies):
        for rel, text in texts:
            target = args.out / f"t{copy:03d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(shifted(text, copy, args.shift_days), encoding="utf-8")
    print(f"{args.copies} copies of {len(files)} seed files written to {args.out}")


if __name__ == "__main__":
    main()
