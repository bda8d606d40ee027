"""bench/news_corpus.py: each copy of a real seed file is new items of the same events, weeks later."""

from __future__ import annotations

import datetime as dt

from bench.news_corpus import seed_files, shifted
from indexer.seeds import parse_seed_bytes


def test_a_copy_holds_the_same_items_with_new_keys_and_dates_moved_by_whole_days():
    rel, path = next((rel, path) for rel, path in seed_files() if rel.startswith("seeds/"))
    text = path.read_text(encoding="utf-8")
    original = parse_seed_bytes(rel, text.encode("utf-8")).records
    copy = parse_seed_bytes(rel, shifted(text, 3, 30).encode("utf-8")).records
    assert len(copy) == len(original) > 1  # the article and its related items
    for before, after in zip(original, copy, strict=True):
        assert (after.title, after.excerpt, after.provider) == (before.title, before.excerpt, before.provider)
        assert after.published - before.published == dt.timedelta(days=90)
        assert after.key != before.key and after.key.split("/", 1)[1].startswith("t3/")
    assert {r.key for r in copy}.isdisjoint(r.key for r in original)


def test_the_sources_are_the_three_real_corpora():
    names = {rel.split("/", 1)[0] for rel, _ in seed_files()}
    assert names == {"ai", "pa", "seeds"} and len(seed_files()) == 416
