"""Plain words scored over their posting lists give the same answers as arrays over every document.

``search.words`` scores a query over the documents holding its words (sparse), and over every
document when the words are held by much of the collection (dense, the way every query used to
be scored). Both must agree float for float, whichever path a query takes; so must the cached
per-term BM25 and the stored fields read past Whoosh's reader.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from indexer import generations, storage
from indexer.analysis import analyze
from search import evaluate, scorer, words
from search.expansion import expand
from search.query import parse
from tests.conftest import search

WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


def queries_of(engine, count: int = 160) -> list[str]:
    """1-3 word runs of stored titles, their prefixes as typed, and misspellings: every shape of plain query."""
    gen = engine.generation()
    found: list[str] = []
    for docnum in range(0, gen.doc_count, max(1, gen.doc_count // count)):
        title_words = WORD.findall(gen.stored(docnum).get("title", ""))
        for size in (1, 2, 3):
            if len(title_words) >= size:
                found.append(" ".join(title_words[:size]).lower())
        if title_words and len(title_words[0]) >= 4:
            found.append(title_words[0][:3].lower())  # a prefix: completions of the last word
            word = title_words[0].lower()
            found.append(word[0] + word[2] + word[1] + word[3:])  # two letters swapped: close spellings
    found += ["the of and", "a b c d e f", "zzzzqx", "police court fire water city news"]
    return list(dict.fromkeys(found))


def spread(scored: words.WordScores, n: int, name: str) -> np.ndarray:
    values = getattr(scored, name)
    full = np.zeros(n, dtype=values.dtype)
    full[scored.ids] = values
    return full


@pytest.mark.parametrize("fixture", ["ai_engine", "all_engine"])
def test_sparse_word_scores_equal_dense_ones_float_for_float(fixture, request):
    engine = request.getfixturevalue(fixture)
    gen = engine.generation()
    compared = 0
    for text in queries_of(engine):
        parsed = parse(text, gen.store.schema, gen.resolve, relaxed=False, any_from=gen.policy.long_query_words)
        if not parsed.words:
            continue
        groups = expand(parsed.words, gen.vocabulary(), gen.policy, prefix_last=True, typos=True)
        groups = list({g[0].term: g for g in groups}.values())
        if not groups:
            continue
        dense = words.WordScores.of(groups, gen, dense=True)
        sparse = words.WordScores.of(groups, gen, dense=False)
        assert len(dense.ids) == gen.doc_count
        assert np.all(sparse.matched >= 1), "the sparse arrays cover only documents holding a word"
        for name in ("scores", "title_scores", "matched", "in_title", "matched_idf"):
            assert np.array_equal(spread(sparse, gen.doc_count, name), getattr(dense, name)), (text, name)
        assert sparse.total_idf == dense.total_idf and sparse.words == dense.words
        compared += 1
    assert compared > 100


def test_answers_are_identical_whichever_path_scores_them(all_engine, monkeypatch):
    # the engine picks a path per query by DENSE_SHARE; forcing each gives the same answers
    def answers(share: float) -> list[dict]:
        monkeypatch.setattr(words, "DENSE_SHARE", share)
        out = []
        for text in queries_of(all_engine, 60):
            for options in ({}, {"group": "0", "explain": "1"}, {"sort": "newest", "filters": ["kind=article"]}):
                answer = search(all_engine, text, **options)
                answer.pop("took_ms")
                out.append(answer)
        return out

    cache = all_engine.generation().answers
    monkeypatch.setattr(cache, "get_or_compute", lambda request, compute: (compute(), False))
    assert answers(0.0) == answers(float("inf"))  # every query dense, then every query sparse


def test_plan_arrays_cover_every_document_on_both_paths(ai_engine, monkeypatch):
    gen = ai_engine.generation()
    for share in (0.0, float("inf")):
        monkeypatch.setattr(words, "DENSE_SHARE", share)
        found = evaluate.plan("facial recognition police", gen)
        assert found.mask.shape == found.scores.shape == (gen.doc_count,)
        assert all(part.shape == (gen.doc_count,) for part in found.parts.values())
        assert found.mask.any()
        assert not found.scores[found.parts["bm25"] == 0].any(), "a document holding no word scores 0"


def test_a_terms_bm25_is_computed_once_and_kept_within_its_budget(ai_engine, monkeypatch):
    gen = ai_engine.generation()
    data = gen.scoring
    common = [analyze(word)[0] for word in ("facial", "recognition", "police")]
    assert all(len(data.postings("excerpt", term)[0]) > 10 for term in common)
    monkeypatch.setattr(scorer, "BM25_CACHE_FROM", 1)
    for term in common:
        _ids, first = data.term_bm25("excerpt", term)
        assert np.array_equal(first, data.bm25("excerpt", term, *data.postings("excerpt", term)))
        again = data.term_bm25("excerpt", term)[1]
        assert again is first, "a kept term's scores are not computed again"
        assert not first.flags.writeable, "requests share the array: none may change it"
    # a budget of one array: keeping another evicts the first
    monkeypatch.setattr(scorer, "BM25_CACHE_BYTES", data.term_bm25("excerpt", common[0])[1].nbytes)
    data.term_bm25("title", common[1])
    data.term_bm25("title", common[2])
    assert data._bm25_bytes <= scorer.BM25_CACHE_BYTES


def test_a_terms_bm25_and_its_normalised_frequencies_are_kept_apart(ai_engine, monkeypatch):
    """Both are kept per (field, term): BM25F reads the frequencies, the title bonus the title's BM25."""
    gen = ai_engine.generation()
    data = gen.scoring
    monkeypatch.setattr(scorer, "BM25_CACHE_FROM", 1)  # the collection's lists are short: keep every one
    for field in ("title", "excerpt"):
        term = analyze("recognition")[0]
        ids, tf = data.postings(field, term)
        frequency = data.term_frequency(field, term)[1]  # kept first: a shared key would hand it out as BM25
        bm25 = data.term_bm25(field, term)[1]
        assert np.array_equal(bm25, data.bm25(field, term, ids, tf))
        assert np.array_equal(frequency, data.normalised_tf(field, term, ids, tf))
        assert data.term_frequency(field, term)[1] is frequency and data.term_bm25(field, term)[1] is bm25
        assert not np.allclose(bm25, frequency)


def test_stored_fields_read_past_whoosh_equal_its_reader_on_many_segments(tmp_path):
    from tests.test_persisted import index_of_several_segments

    index = index_of_several_segments(tmp_path)
    store = storage.Store(generations.current_generation(index))
    assert len(store.segments()) >= 3
    for docnum in range(store.doc_count):
        assert store.stored(docnum) == store.reader.stored_fields(docnum), docnum


def test_feedbacks_first_items_are_a_full_sorts_first_ones_ties_and_all():
    """Feedback reads its first ranking's top items without sorting every match (a common word's tens of thousands)."""
    from search.feedback import _first

    rng = np.random.default_rng(7)
    for size in (0, 1, 5, 39, 40, 41, 500):
        docs = np.sort(rng.choice(10_000, size, replace=False))
        ranking = np.zeros(10_000)
        ranking[docs] = rng.integers(0, 6, size)  # few values: many ties, kept in document order
        later = rng.random(size) < 0.4
        for k in (1, 10, 40):
            assert _first(docs, ranking, later, k).tolist() == docs[np.lexsort((-ranking[docs], later))][:k].tolist()


def test_many_terms_document_frequencies_equal_one_at_a_times(all_engine):
    scoring = all_engine.generation().scoring
    terms = ["facial", "recognit", "polic", "zzqxv", "ai", "app", "", "clearview"]
    for field in ("title", "excerpt", "provider_text"):
        assert scoring.doc_frequencies(field, terms).tolist() == [scoring.doc_frequency(field, t) for t in terms]
