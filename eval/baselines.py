"""Plain-BM25 baselines over the same documents as the engine: what the ranking must beat.

Each builder indexes the live documents of an engine and returns ``rank(query, k) -> keys``:
SQLite FTS5 (porter), tantivy (Lucene-style BM25, English stemming) and bm25s (Snowball),
each with the query's words ORed and the title weighted 2x. tantivy and bm25s are the
``eval`` extra (``pip install -e '.[eval]'``); a missing one is left out with a note.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from bench.baseline import build_sqlite, sqlite_rank
from search.engine import SearchEngine

Rank = Callable[[str, int], list[str]]
WORDS = re.compile(r"\w+")
TITLE_WEIGHT = 2.0


def fts5(engine: SearchEngine, folder: Path) -> Rank:
    """SQLite FTS5 bm25(), title weighted 2x."""
    db: sqlite3.Connection = build_sqlite(engine, folder / "fts.db")
    return lambda q, k: sqlite_rank(db, WORDS.findall(q), limit=k, title_weight=TITLE_WEIGHT)


def tantivy(engine: SearchEngine, folder: Path) -> Rank:
    """Tantivy BM25 with its English stemmer, title boosted 2x."""
    from eval.tantivy_baseline import build_tantivy

    return build_tantivy(engine, TITLE_WEIGHT)


def bm25s(engine: SearchEngine, folder: Path) -> Rank:
    """bm25s (Lucene BM25 variant) with Snowball stemming and English stop words; the title counted twice."""
    import bm25s as lib
    from nltk.stem.snowball import SnowballStemmer

    snowball = SnowballStemmer("english").stem
    stem = lambda words: [snowball(w) for w in words]  # noqa: E731 - bm25s stems the vocabulary as a list
    keys, texts = [], []
    for f in engine.stored_documents():
        keys.append(f["key"])
        title = f.get("title", "")
        texts.append(f"{title} {title} {f.get('excerpt', '')}")
    retriever = lib.BM25()
    retriever.index(lib.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)

    def rank(q: str, k: int) -> list[str]:
        tokens = lib.tokenize([q], stopwords="en", stemmer=stem, return_ids=False, show_progress=False)
        tokens = [[t for t in tokens[0] if t in retriever.vocab_dict]]
        if not tokens[0]:
            return []
        found, scores = retriever.retrieve(tokens, k=min(k, len(keys)), show_progress=False)
        return [keys[i] for i, s in zip(found[0], scores[0], strict=True) if s > 0]

    return rank


BUILDERS: dict[str, Callable[[SearchEngine, Path], Rank]] = {
    "FTS5 (title 2x)": fts5,
    "tantivy (title 2x)": tantivy,
    "bm25s (title 2x)": bm25s,
}


def build_all(engine: SearchEngine, folder: Path) -> dict[str, Rank]:
    """Every baseline whose library is installed."""
    ranks = {}
    for name, builder in BUILDERS.items():
        try:
            ranks[name] = builder(engine, folder)
        except ImportError as exc:
            print(f"({name} left out: {exc}; pip install -e '.[eval]')", file=sys.stderr)
    return ranks
