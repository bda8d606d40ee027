"""Names that occur in the evaluation collection, for a writer of name queries who sees no item.

    python eval/name_candidates.py > names.txt     # 300 capitalised phrases, a seeded sample
    python eval/name_candidates.py --seed 20261204 --skip eval/data/briefs/name_candidates_n001.txt

Blind writers pick many names the collection does not hold (docs/relevance.md, eleventh round), so
name queries are written from phrases a program drew from the items' titles and excerpts: runs of
one to four capitalised words or acronyms held by 1-40 items, less single ordinary words (frequent
in English) and phrases opening with a function word. The list is noisy (headline fragments); the
writer chooses the names. It names no system and shows no ranking.
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.graded import open_collection
from search.background import zipf

SEED = 20261203
WORD = r"(?:[A-Z][a-zA-Z0-9\-\.&']*[a-zA-Z0-9]|[A-Z]{2,}[0-9]*)"
PHRASE = re.compile(rf"\b{WORD}(?:\s+{WORD}){{0,3}}\b")
OPENERS = {"The", "A", "An", "In", "On", "How", "Why", "What", "New", "This", "It", "AI", "We", "Our", "For", "And"}
OPENERS |= {"With", "Is", "To"}


def drawn(items: list[dict], count: int = 300, seed: int = SEED, skip: frozenset[str] = frozenset()) -> list[str]:
    """``count`` names the stored ``items`` hold, drawn with ``seed``, none in ``skip`` (an earlier list)."""
    held = collections.Counter()
    for item in items:
        text = f"{item.get('title', '')}. {item.get('excerpt', '')}"
        held.update({match.group(0).strip(" .'") for match in PHRASE.finditer(text)})
    names = [
        name
        for name, items_holding in sorted(held.items())  # a fixed order for the seeded shuffle
        if 1 <= items_holding <= 40
        and len(name) >= 3
        and name.split()[0] not in OPENERS
        and not (" " not in name and zipf(name.lower()) > 4.0)  # an ordinary word, capitalised
        and name not in skip
    ]
    random.Random(seed).shuffle(names)
    return sorted(names[:count], key=str.lower)


def collection_items() -> list[dict]:
    """The evaluation collection's stored items (indexed by words alone in a temporary folder)."""
    engine, folder = open_collection(semantic_model="none")  # words are all the draw reads
    items = list(engine.stored_documents())
    shutil.rmtree(folder.parent, ignore_errors=True)
    return items


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--skip", type=Path, help="a list of names already given to a writer")
    args = parser.parse_args()
    skipped = frozenset(args.skip.read_text().splitlines()) if args.skip else frozenset()
    print("\n".join(drawn(collection_items(), args.count, args.seed, skipped)))
