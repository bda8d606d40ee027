"""Tantivy (Lucene-style BM25, English stemming) over the same documents: a second plain baseline.

Tantivy is a test-only extra (``pip install -e '.[eval]'``); eval/run.py skips it when absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from search.engine import SearchEngine

WORDS = re.compile(r"\w+")


def build_tantivy(engine: SearchEngine, title_weight: float = 1.0) -> Callable[[str, int], list[str]]:
    """Index the live documents of ``engine`` in memory; return ``rank(query, k) -> keys``."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("key", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=False, tokenizer_name="en_stem")
    builder.add_text_field("excerpt", stored=False, tokenizer_name="en_stem")
    index = tantivy.Index(builder.build())
    writer = index.writer(num_threads=1)  # one segment in insertion order: ties rank the same in every run
    for f in engine.stored_documents():
        writer.add_document(tantivy.Document(key=f["key"], title=f.get("title", ""), excerpt=f.get("excerpt", "")))
    writer.commit()
    index.reload()
    searcher = index.searcher()

    def rank(query: str, k: int) -> list[str]:
        words = WORDS.findall(query)
        if not words:
            return []
        # words only: no query syntax reaches the parser; any word may match (OR), as in plain BM25
        parsed = index.parse_query(" ".join(words), ["title", "excerpt"], field_boosts={"title": title_weight})
        return [searcher.doc(address)["key"][0] for _score, address in searcher.search(parsed, k).hits]

    return rank
