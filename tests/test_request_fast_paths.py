"""The cheaper paths of an uncached request give what the reference computation gives, exactly.

Each fast path (a common word's arrays kept per generation, facet counts taken from the items a
query leaves out, a completion's postings placed without ``np.unique``) is compared here with
the computation it replaces, on many queries of every shape over the real indexes the other
tests build.
"""

from __future__ import annotations

import numpy as np
import pytest

from search import engine as engine_module
from search import evaluate, words
from search.engine import SearchEngine
from search.expansion import expand
from search.query import parse
from search.ranking import POLICY
from tests.conftest import PER_FIELD_BM25, search
from tests.test_sparse_scoring import queries_of


def _answers(engine, texts: list[str]) -> list[dict]:
    out = []
    for text in texts:
        for options in ({}, {"group": "0", "explain": "1"}, {"sort": "newest", "filters": ["kind=article"]}):
            answer = search(engine, text, **options)
            answer.pop("took_ms")
            out.append(answer)
    return out


@pytest.mark.parametrize("share", [0.0, float("inf")], ids=["dense", "sparse"])
def test_remembered_word_arrays_give_the_answers_computed_each_time(all_engine, monkeypatch, share):
    gen = all_engine.generation()
    gen.scoring._dense.clear()
    monkeypatch.setattr(gen.answers, "get_or_compute", lambda request, compute: (compute(), False))
    monkeypatch.setattr(words, "DENSE_SHARE", share)  # every query over every document, or over its postings
    texts = queries_of(all_engine, 60)
    monkeypatch.setattr(words, "REMEMBER_FROM", 0)  # never kept: the reference
    monkeypatch.setattr(words, "REMEMBER_SPARSE_FROM", 0)
    reference = _answers(all_engine, texts)
    assert not gen.scoring._dense
    monkeypatch.setattr(words, "REMEMBER_FROM", 10**9)  # every word held by an item kept
    monkeypatch.setattr(words, "REMEMBER_SPARSE_FROM", 10**9)
    assert _answers(all_engine, texts) == reference  # computed and kept
    assert gen.scoring._dense, "the words' arrays were kept"
    assert _answers(all_engine, texts) == reference  # read from what was kept
    for arrays in gen.scoring._dense.values():
        assert not any(array.flags.writeable for array in arrays), "requests share them: none may change them"


def test_a_word_kept_with_its_completions_is_not_changed_by_the_word_alone(ai_engine, monkeypatch):
    # "facial" alone and "faci" (facial among its completions) are two kept groups; scoring one
    # must leave the other's arrays as computed
    gen = ai_engine.generation()
    monkeypatch.setattr(words, "REMEMBER_FROM", 10**9)
    groups = expand(["faci"], gen.vocabulary(), gen.policy, prefix_last=True, typos=True)
    assert len(groups[0]) > 1, "a prefix with completions"
    first = [a.copy() for a in words._group_scores(groups[0], gen)]
    words._group_scores([groups[0][0]], gen)
    words._group_scores([next(a for a in groups[0] if a.word == "facial")], gen)
    again = words._group_scores(groups[0], gen)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(first, words._group_arrays(groups[0], gen), strict=True))


def test_facet_counts_from_the_items_left_out_equal_counting_the_matches(all_engine):
    gen = all_engine.generation()
    live_docs = np.flatnonzero(gen.live)
    masks = [gen.live.copy(), np.zeros(gen.doc_count, dtype=bool)]
    for text in queries_of(all_engine, 40):
        masks.append(evaluate.plan(text, gen, prefix_last=True, typos=True).mask)
    rng = np.random.default_rng(16)
    for share in (0.5, 0.9, 0.99):
        masks.append(gen.live & (rng.random(gen.doc_count) < share))
    for mask in masks:
        docs = np.flatnonzero(mask)
        left_out = np.setdiff1d(live_docs, docs)
        for field, table in gen.facets.items():
            assert np.array_equal(table.counts_but(gen.live, left_out), table.counts(docs)), field


def test_browsing_every_item_counts_every_live_item(all_engine):
    gen = all_engine.generation()
    answer = search(all_engine, "")  # matches every live item: counted from the (empty) rest
    for field, rows in answer["facets"].items():
        counts = gen.facets[field].counts(np.flatnonzero(gen.live))
        table = gen.facets[field]
        assert all(row["count"] == counts[table.values.index(row["value"])] for row in rows), field


@pytest.mark.parametrize("saturation", ["document", "field"])
def test_every_forms_score_over_its_fields_is_computed_from_the_postings(all_engine, saturation):
    # the reference, from the raw postings and lengths. BM25F ("document"): a form's frequency in each
    # field over the field's length norm, x the field's boost, summed over the fields, saturated once
    # with its idf. "field": each field's BM25 x the field's boost, summed
    policy = POLICY if saturation == "document" else PER_FIELD_BM25
    assert policy.saturation == saturation
    gen = SearchEngine(all_engine.index_dir, policy=policy, cache_entries=0).generation()
    compared = 0
    for text in queries_of(all_engine, 80):
        parsed = parse(text, gen.store.schema, gen.resolve, relaxed=False, any_from=policy.long_query_words)
        for group in expand(parsed.words, gen.vocabulary(), policy, prefix_last=True, typos=True):
            for alt in group:
                ids, scores, title = words.sparse_alternative(alt, gen)
                # a word written together or apart weighs the typed word's idf (policy.compound_idf)
                idf = gen.scoring.idf("excerpt", alt.idf_term or alt.term)
                frequency, per_field = np.zeros(gen.doc_count), np.zeros(gen.doc_count)
                title_bm25 = np.zeros(gen.doc_count)
                for field, boost in policy.boosts.items():
                    docs, tf = gen.scoring.postings(field, alt.term)
                    length, average = gen.scoring.lengths[field][docs], gen.stats.avg_field_length(field)
                    b = policy.b[field]
                    frequency[docs] += boost * tf / (1 - b + b * length / average)
                    per_field[docs] += boost * policy.bm25(field, idf, tf, length, average)
                    if field == "title":  # the title's own BM25 (the title bonus reads it), on the same idf
                        title_bm25[docs] = policy.bm25("title", idf, tf, length, average)
                held = np.flatnonzero(frequency)
                assert np.array_equal(ids, held)
                k1 = policy.k1
                if saturation == "document":
                    expected = idf * (k1 + 1) * frequency[held] / (frequency[held] + k1)
                else:
                    expected = per_field[held]
                assert np.allclose(scores, alt.weight * expected, rtol=1e-12, atol=0)
                assert np.allclose(title, alt.weight * title_bm25[held], rtol=1e-12, atol=0)
                compared += 1
    assert compared > 100


def test_single_valued_facets_counted_together_equal_counting_each(all_engine, monkeypatch):
    gen = all_engine.generation()
    joint = gen.joint_facets()
    assert {"provider", "kind", "year"} <= set(joint.fields), "the single-valued facets are counted together"
    rng = np.random.default_rng(16)
    selections = [np.flatnonzero(gen.live), np.zeros(0, dtype=np.int64), np.arange(gen.doc_count)]
    selections += [np.flatnonzero(gen.live & (rng.random(gen.doc_count) < share)) for share in (0.01, 0.5, 0.9)]
    for docs in selections:
        together = joint.counts(docs)
        for field in joint.fields:
            assert np.array_equal(together[field], gen.facets[field].counts(docs)), field
    # and whole answers, every facet with and without a filter of its own, counted together or each alone
    monkeypatch.setattr(gen.answers, "get_or_compute", lambda request, compute: (compute(), False))
    texts = ["", *queries_of(all_engine, 40)]
    monkeypatch.setattr(engine_module, "JOINT_FROM", 10**9)
    reference = _answers(all_engine, texts)
    monkeypatch.setattr(engine_module, "JOINT_FROM", 0)
    assert _answers(all_engine, texts) == reference


def test_the_title_bonus_by_position_equals_adding_it_by_boolean_mask(all_engine, monkeypatch):
    # the reference: the bonus added where the title holds every word, by boolean indexing, as it was
    gen = all_engine.generation()
    compared = 0
    for share in (0.0, float("inf")):  # dense and sparse word arrays
        monkeypatch.setattr(words, "DENSE_SHARE", share)
        for text in queries_of(all_engine, 60):
            parsed = parse(text, gen.store.schema, gen.resolve, relaxed=False, any_from=gen.policy.long_query_words)
            groups = expand(parsed.words, gen.vocabulary(), gen.policy, prefix_last=True, typos=True)
            groups = list({g[0].term: g for g in groups}.values())
            if len(groups) < 2:
                continue
            scored = words.WordScores.of(groups, gen)
            reference = np.zeros(len(scored.ids))
            whole = scored.in_title == len(groups)
            reference[whole] += gen.policy.title_all_words_boost * scored.title_scores[whole]
            exact = evaluate._positions(
                scored.ids, gen.scoring.postings("title_exact", " ".join(g[0].term for g in groups))[0]
            )
            reference[exact] += gen.policy.exact_title_boost * len(groups)
            found = evaluate.plan_groups(parsed, groups, gen, relaxed=False)
            assert np.array_equal(found.parts["title"][scored.ids], reference), text
            compared += int(whole.any())
    assert compared > 10, "queries whose titles hold every word"


def test_a_query_trees_kept_term_scores_give_the_answers_computed_each_time(all_engine, monkeypatch):
    gen = all_engine.generation()
    monkeypatch.setattr(gen.answers, "get_or_compute", lambda request, compute: (compute(), False))
    texts = ["title:power OR apps", "(facial OR face) AND recognition", "police -facial", "recog* police"]
    gen.scoring._dense.clear()
    computed = _answers(all_engine, texts)
    assert any(key[0] == "tree term" for key in gen.scoring._dense), "a tree's terms are kept"
    assert _answers(all_engine, texts) == computed  # read from what was kept
    assert all(answer["hits"] for answer in computed)
