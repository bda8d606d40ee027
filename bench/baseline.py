"""SQLite FTS5 over the same documents as an index generation: the plain-BM25 baseline.

Used by bench/query.py (latency) and eval/run.py (relevance), so both compare against the
same thing: FTS5 with the porter tokenizer and diacritics removed, bm25 ranking.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from search.engine import SearchEngine


def build_sqlite(engine: SearchEngine, path: Path) -> sqlite3.Connection:
    """The same documents in SQLite: FTS5 (porter, diacritics removed) plus facet columns."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE docs(id INTEGER PRIMARY KEY, key TEXT, url TEXT, title TEXT, excerpt TEXT, provider TEXT,
                          year TEXT, kind TEXT, quality INTEGER);
        CREATE TABLE topics(doc INTEGER, topic TEXT);
        CREATE VIRTUAL TABLE fts USING fts5(title, excerpt, content='docs', content_rowid='id',
                                            tokenize='porter unicode61 remove_diacritics 2');
        """
    )
    rows, topic_rows = [], []
    # row ids follow index order, so equal bm25 scores order as before
    for docnum, f in enumerate(engine.stored_documents()):
        rows.append(
            (
                docnum,
                f.get("key"),
                f.get("url"),
                f.get("title", ""),
                f.get("excerpt", ""),
                f.get("provider", ""),
                f.get("year", ""),
                f.get("kind", ""),
                f.get("quality"),
            )
        )
        topic_rows += [(docnum, t) for t in f.get("topics") or []]
    db.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO topics VALUES (?,?)", topic_rows)
    db.execute("CREATE INDEX topics_doc ON topics(doc)")
    db.execute("INSERT INTO fts(fts) VALUES ('rebuild')")
    db.commit()
    return db


def sqlite_search(db: sqlite3.Connection, q: str, *, raw: bool = False) -> tuple[int, list]:
    """Top 10 with highlights and facet counts; ``raw``: ``q`` is already an FTS5 MATCH expression."""
    match = q if raw else " ".join('"' + w.replace('"', "") + '"' for w in q.split())
    hits = db.execute(
        "SELECT d.url, highlight(fts, 0, '<mark>', '</mark>'), snippet(fts, 1, '<mark>', '</mark>', '…', 40)"
        " FROM fts JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ? ORDER BY bm25(fts, 2.0, 1.0) LIMIT 10",
        (match,),
    ).fetchall()
    matches = "SELECT rowid FROM fts WHERE fts MATCH ?"
    total = db.execute(f"SELECT count(*) FROM ({matches})", (match,)).fetchone()[0]
    for column in ("provider", "year", "kind"):
        db.execute(
            f"SELECT {column}, count(*) c FROM docs WHERE id IN ({matches}) GROUP BY {column} ORDER BY c DESC LIMIT 20",
            (match,),
        ).fetchall()
    db.execute(
        f"SELECT topic, count(*) c FROM topics WHERE doc IN ({matches}) GROUP BY topic ORDER BY c DESC LIMIT 20",
        (match,),
    ).fetchall()
    return total, hits


def sqlite_rank(db: sqlite3.Connection, words: list[str], *, limit: int = 10, title_weight: float = 1.0) -> list[str]:
    """Keys of the best ``limit`` documents for any of ``words`` (plain BM25, OR semantics)."""
    match = " OR ".join('"' + w.replace('"', "") + '"' for w in words if w.strip())
    if not match:
        return []
    rows = db.execute(
        "SELECT d.key FROM fts JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ? ORDER BY bm25(fts, ?, 1.0) LIMIT ?",
        (match, title_weight, limit),
    ).fetchall()
    return [key for (key,) in rows]
