"""Build the judged query sets in eval/data/ from the bundled corpora (deterministic).

    python eval/build_sets.py

* story.jsonl: an article's title as the query; the items its publisher listed under
  ``related:`` are the relevant results (the article itself is left out of the scoring).
* known_item.jsonl: four distinctive words from one item's excerpt (the rarest in the
  collection, and together matching only that item); that item is expected first.
* typo.jsonl: a real, frequent word with two neighbouring letters swapped; the
  did-you-mean should restore it.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.analysis import analyze  # noqa: E402
from indexer.documents import build_documents  # noqa: E402
from indexer.seeds import SeedFile, discover, iter_seed_files  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
CORPORA = {
    "seeds": ROOT / "seeds",
    "ai": ROOT / "tests" / "fixtures" / "corpus" / "artificial-intelligence",
    "power-apps": ROOT / "tests" / "fixtures" / "corpus" / "microsoft-power-apps" / "base",
}
WORD = re.compile(r"[a-z]+")


def collection_folder() -> Path:
    """Every corpus side by side in one folder: the collection the evaluation indexes."""
    folder = Path(tempfile.mkdtemp(prefix="news-eval-")) / "seeds"
    for name, source in CORPORA.items():
        shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("SOURCE.md", "README.md"))
    return folder


def read(folder: Path) -> list[SeedFile]:
    paths, _ = discover(folder)
    return [f for f in iter_seed_files(folder, paths) if isinstance(f, SeedFile)]


def story_queries(files: list[SeedFile]) -> list[dict]:
    seen: set[str] = set()
    queries = []
    for f in files:
        article = f.records[0]
        related = sorted({r.key for r in f.records[1:]} - {article.key})
        if len(related) < 2 or article.title in seen:
            continue
        seen.add(article.title)
        queries.append({"query": article.title, "exclude": [article.key], "relevant": dict.fromkeys(related, 1)})
    return queries


def known_item_queries(docs, rng: random.Random, count: int = 150) -> list[dict]:
    terms = {d.key: set(analyze(f"{d.title} {d.excerpt}")) for d in docs}
    df = Counter(t for ts in terms.values() for t in ts)
    queries = []
    for doc in rng.sample(docs, len(docs)):
        words = [w for w in dict.fromkeys(WORD.findall(doc.excerpt.lower())) if len(w) > 3 and analyze(w)]
        if len(words) < 8:
            continue
        chosen = sorted(words, key=lambda w: (df[analyze(w)[0]], words.index(w)))[:4]
        wanted = {analyze(w)[0] for w in chosen}
        if sum(1 for ts in terms.values() if wanted <= ts) != 1:
            continue  # the same words describe another item too: not a known-item query
        queries.append({"query": " ".join(chosen), "expected": doc.key})
        if len(queries) == count:
            break
    return queries


def typo_queries(docs, rng: random.Random, count: int = 100) -> list[dict]:
    vocabulary = Counter(w for d in docs for w in set(WORD.findall(f"{d.title} {d.excerpt}".lower())))
    frequent = sorted(w for w, n in vocabulary.items() if n >= 3 and len(w) >= 6)
    queries = []
    for word in rng.sample(frequent, len(frequent)):
        i = rng.randrange(1, len(word) - 2)
        typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if typo == word or typo in vocabulary:
            continue
        queries.append({"query": typo, "expected": word})
        if len(queries) == count:
            break
    return queries


def main() -> None:
    folder = collection_folder()
    files = read(folder)
    docs = build_documents(r for f in files for r in f.records)
    rng = random.Random(1)
    DATA.mkdir(exist_ok=True)
    for name, rows in (
        ("story", story_queries(files)),
        ("known_item", known_item_queries(docs, rng)),
        ("typo", typo_queries(docs, rng)),
    ):
        with open(DATA / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} queries")
    shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
