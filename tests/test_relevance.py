"""Ranking policy, explain, typing expansions and the rare-word regression, on real indexes."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from indexer import build
from search import export
from search.engine import SearchEngine
from search.evaluate import plan
from search.ranking import POLICY, RULES
from search.request import build_request
from tests.conftest import FIXTURES, PER_FIELD_BM25, search
from tests.test_cli import ROOT
from web.app import create_app

RARE_WORD = [json.loads(line) for line in (FIXTURES / "graded" / "rare_word.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("row", RARE_WORD, ids=lambda r: r["rare_word"])
def test_the_item_carrying_a_questions_rare_word_ranks_in_the_top_3(all_engine, row):
    """Judged blind: common words and a big story once pushed the one Clearview/AFP item to 4th."""
    best = [key for key, grade in row["grades"].items() if grade == 2]
    keys = [h["key"] for h in search(all_engine, row["query"], group=False, limit=10)["hits"]]
    assert row["rare_word"] in row["query"].lower()
    assert any(key in keys[:3] for key in best), keys[:5]


@pytest.mark.parametrize(
    "q",
    ["facial recognition police", "amazon rekogniton", "facial reco", "title:police OR amazon", '"facial recognition"'],
)
def test_explain_adds_up_to_each_hits_score_rule_by_rule(ai_engine, q):
    result = ai_engine.search(build_request(q, explain=True, limit=10, group=False))
    assert result["hits"]
    for hit in result["hits"]:
        explain = hit["explain"]
        assert explain["score"] == pytest.approx(hit["score"], abs=1e-6)
        rules = [r["rule"] for r in explain["rules"]]
        assert rules == [r for r in RULES if r in rules]  # the policy's order
        bm25 = _bm25(explain)
        assert sum(t["value"] for t in bm25["terms"]) == pytest.approx(bm25["value"], rel=1e-9)
        value = 0.0
        for rule in explain["rules"]:
            if rule["rule"] == "bm25":
                value = rule["value"]
            elif "factor" in rule:
                value *= rule["factor"]
            else:
                value += rule.get("bonus", rule["value"] - value)
            assert value == pytest.approx(rule["value"], rel=1e-6)


def test_explain_is_absent_unless_asked_and_when_not_ranking_by_relevance(engine):
    assert "explain" not in search(engine, "police")["hits"][0]
    assert "explain" not in engine.search(build_request("police", explain=True, sort="newest"))["hits"][0]


def test_the_export_translates_the_same_policy(tmp_path):
    policy = dataclasses.replace(POLICY, k1=0.9, long_query_words=6, all_words_until=5, title_all_words_boost=2.0)
    template = json.dumps(export.search_template(policy))
    assert '"minimum_should_match": "2<-1 5<1"' in template
    # Elasticsearch's "2<-1 5<1": up to 2 clauses all, up to 5 all but one, beyond that one
    expected = [n if n <= 2 else (n - 1 if n <= 5 else 1) for n in range(1, 10)]
    assert [policy.minimum_should_match(n) for n in range(1, 10)] == expected
    assert f'"boost": {policy.title_all_words_boost}' in template
    # the all-words tier: every word up to 5 words (all_words_until), one beyond, so no reordering there
    assert '"minimum_should_match": "5<1"' in template and '"constant_score"' in template
    untiered = json.dumps(export.search_template(dataclasses.replace(policy, all_words_first=False)))
    assert '"constant_score"' not in untiered


def _words_clause(policy) -> dict:
    return export.search_template(policy)["script"]["source"]["query"]["function_score"]["query"]["bool"]["must"]


def test_the_export_scores_bm25f_as_combined_fields_on_the_default_similarity():
    policy = dataclasses.replace(POLICY, k1=0.9, saturation="document")
    definition = export.index_definition(policy)
    # combined_fields refuses fields with a similarity of their own ("[combined_fields] queries cannot
    # be used with per-field similarities"): its fields take the index's default, BM25 with the
    # boosts (2.5, 1, 0.5) x 2 (it takes none below 1) and k1 x 2, which ranks as BM25F does
    similarity = definition["settings"]["similarity"]
    assert similarity["default"] == {"type": "BM25", "k1": 1.8, "b": policy.b["excerpt"]}
    properties = definition["mappings"]["properties"]
    texts = [properties["title"], properties["excerpt"], properties["provider"]["fields"]["text"]]
    assert all("similarity" not in t for t in texts)
    must = _words_clause(policy)
    assert must["combined_fields"]["fields"] == ["title^5", "excerpt^2", "provider.text^1"]
    # the title bonus reads the title alone, on the title's own BM25 (a subfield, not queried by combined_fields)
    alone = properties["title"]["fields"][export.TITLE_ALONE]
    assert similarity[alone["similarity"]] == {"type": "BM25", "k1": 0.9, "b": policy.b["title"]}
    should = export.search_template(policy)["script"]["source"]["query"]["function_score"]["query"]["bool"]["should"]
    assert {
        "match_phrase": {f"title.{export.TITLE_ALONE}": {"query": "{{q}}", "boost": policy.title_all_words_boost}}
    } in should
    # scaling the boosts and k1 alike multiplies every item's BM25F by one factor: the same order
    frequencies = np.array([0.3, 1.0, 4.2])
    scaled = dataclasses.replace(policy, k1=1.8, boosts={"title": 5.0, "excerpt": 2.0, "provider_text": 1.0})
    ratio = scaled.saturate(2.0, 2 * frequencies) / policy.saturate(2.0, frequencies)
    assert np.allclose(ratio, (scaled.k1 + 1) / (policy.k1 + 1))


def test_the_export_of_per_field_bm25_keeps_each_fields_similarity():
    policy = dataclasses.replace(POLICY, k1=0.9, saturation="field")
    similarity = export.index_definition(policy)["settings"]["similarity"]
    assert {s["k1"] for s in similarity.values()} == {0.9}
    assert similarity["bm25_title"]["b"] == policy.b["title"]
    # one idf per word across the fields (idf_fields "max"): cross_fields blends it the same way
    words = _words_clause(policy)
    assert words["multi_match"]["type"] == "cross_fields" and words["multi_match"]["tie_breaker"] == 1.0
    assert words["multi_match"]["fields"][0] == "title^2.5"
    per_field = export.search_template(dataclasses.replace(policy, idf_fields="field"))
    assert '"type": "most_fields"' in json.dumps(per_field) and "tie_breaker" not in json.dumps(per_field)


def test_bm25f_needs_one_idf_per_term():
    with pytest.raises(ValueError, match="idf_fields"):
        dataclasses.replace(POLICY, saturation="document", idf_fields="field")
    with pytest.raises(ValueError, match="saturation"):
        dataclasses.replace(POLICY, saturation="fields")
    with pytest.raises(ValueError, match="k1"):
        dataclasses.replace(POLICY, k1=0.0)


def test_exact_words_rank_above_completions_and_corrections(engine):
    """'amaz' finds Amazon; typed whole, the word outranks its completions; a typo is below the exact word."""
    completed = search(engine, "amaz", group=False, limit=5)
    assert completed["total"] and all("amazon" in h["title"].lower() + h["excerpt"].lower() for h in completed["hits"])
    assert ("Amazon", True) in completed["hits"][0]["highlight"]["title"]  # the completion is marked
    whole = search(engine, "amaz ", group=False)  # ends in a space: a whole word, which no item has
    assert whole["total"] == 0
    off = engine.search(build_request("amaz", prefix=False))
    assert off["total"] == 0
    fixed = search(engine, "facial recogntion", group=False, limit=5)
    assert fixed["corrected"] == "facial recognition" and fixed["suggestion"] is None
    exact = search(engine, "facial recognition", group=False, limit=5)
    assert fixed["hits"][0]["score"] < exact["hits"][0]["score"]  # corrections weigh less than the word
    assert engine.search(build_request("facial recogntion", typos=False))["corrected"] is None


def test_a_one_letter_prefix_expands_to_a_bounded_number_of_words(all_engine):
    gen = all_engine.generation()
    vocabulary = gen.vocabulary()
    assert vocabulary.frequency("pr") == 0 and len(vocabulary.completions("pr", 1000)) > POLICY.prefix_short_terms
    result = all_engine.search(build_request("pr", explain=True, group=False, limit=100))
    words = {t["word"] for h in result["hits"] for t in _bm25(h["explain"])["terms"]}
    assert result["total"] > 0 and len(words) <= POLICY.prefix_short_terms
    # a one- or two-letter word that exists ("AI") was typed whole: no completions
    assert (
        all_engine.search(build_request("ai", explain=True, group=False))["total"]
        == search(all_engine, "ai ", group=False)["total"]
    )


def test_a_last_word_of_any_length_some_item_holds_is_typed_whole_when_the_policy_says_so(all_engine):
    """Judged blind ("Power Platform CLI"): `cli` also stands for `clinic`, so an item about a clinic holds
    "all three words" and ranks first, the item about the CLI second. ``whole_word_until`` 99 takes a word
    some item holds as typed whole at every length (off by default: 1-2 letters); one no item holds completes."""

    def words(engine: SearchEngine, query: str) -> tuple[set[str], list[dict]]:
        hits = engine.search(build_request(query, explain=True, group=False, limit=10))["hits"]
        return {t["word"] for h in hits for t in _bm25(h["explain"])["terms"]}, hits

    whole = SearchEngine(all_engine.index_dir, policy=dataclasses.replace(POLICY, whole_word_until=99))
    typed, hits = words(whole, "power platform cli")
    assert not {"clinic", "clinical"} & typed and "CLI" in hits[0]["title"]
    assert {"clinic", "clinical"} & words(whole, "power platform clin")[0]
    completed, hits = words(all_engine, "power platform cli")  # the policy in the code: 1-2 letters only
    assert {"clinic", "clinical"} & completed and "Clinic" in hits[0]["title"]


def _bm25(explain: dict) -> dict:
    return next(rule for rule in explain["rules"] if rule["rule"] == "bm25")


def test_items_holding_every_word_rank_before_items_lacking_one(all_engine):
    """Known item: three copies of a press release hold 3 of the 4 words in their titles; the item
    holding all 4 (in its text) ranked 4th by score alone. With 3-4 words, every word ranks first."""
    query = "reply agreement signed manufacturing"
    wanted = "helpnetsecurity.com/2021/01/19/reply-aws"
    result = all_engine.search(build_request(query, explain=True, group=False, limit=10))
    hits = result["hits"]
    assert hits[0]["key"] == wanted
    assert not hits[0]["partial"] and all(h["partial"] for h in hits[1:])
    assert result["partial"] == result["total"] - 1
    tiers = [next(r for r in h["explain"]["rules"] if r["rule"] == "words")["all_words"] for h in hits]
    assert tiers == [True] + [False] * (len(hits) - 1)
    assert hits[1]["score"] > hits[0]["score"]  # the tier decides, not the score
    by_score = SearchEngine(all_engine.index_dir, policy=dataclasses.replace(POLICY, all_words_first=False))
    # by score alone it is not first (2nd with BM25F; 4th with per-field BM25 summed): the tier puts it there
    assert [h["key"] for h in search(by_score, query, group=False)["hits"]].index(wanted) > 0
    then = SearchEngine(all_engine.index_dir, policy=dataclasses.replace(PER_FIELD_BM25, all_words_first=False))
    assert [h["key"] for h in search(then, query, group=False)["hits"]].index(wanted) == 3


def test_four_words_may_match_any_word_with_the_items_holding_all_four_first(all_engine):
    """Requiring 3 of 4 words filled a short page's top with weak items holding 3 (two items here, both
    judged not relevant) and put "Mobile Offline for Power Apps" (2 of the 4, in its title) after them.
    ``long_query_words`` 4 lets any word match (off: the fresh half did not confirm it, seventh round);
    the words tier, set by word count, still puts the items holding every word first."""
    query = "canvas app offline data"
    any_word = SearchEngine(all_engine.index_dir, policy=dataclasses.replace(POLICY, long_query_words=4))
    result = search(any_word, query, group=False, limit=3)
    assert "Offline" in result["hits"][0]["title"]
    assert result["relaxed"]  # no item holds all four words: the page says so
    assert all("Offline" not in h["title"] for h in search(all_engine, query, group=False, limit=2)["hits"])
    # some item holds every word: it comes first, and the page is not relaxed
    tiered = search(any_word, "reply agreement signed manufacturing", group=False)
    assert tiered["hits"][0]["key"] == "helpnetsecurity.com/2021/01/19/reply-aws"
    assert not tiered["relaxed"] and tiered["partial"] == tiered["total"] - 1
    assert [POLICY.words_tier(n) for n in range(1, 7)] == [False, False, True, True, False, False]


def test_two_words_and_five_or_more_are_not_tiered(all_engine):
    assert search(all_engine, "facial recognition", group=False)["partial"] == 0  # both words required anyway
    long = search(all_engine, "is Clearview being used by the Australian federal police", group=False)
    assert long["partial"] == 0 and long["total"] > 10  # any word matches; coordination orders them


# feedback on, with the policy's settings for it (off by default: docs/relevance.md, sixth round)
FED = dataclasses.replace(POLICY, feedback_from=2)
UNFED = dataclasses.replace(POLICY, feedback_from=0)


def _engine(engine: SearchEngine, policy) -> SearchEngine:
    return SearchEngine(engine.index_dir, policy=policy, cache_entries=0)


def _feedback_terms(result: dict) -> set[str]:
    return {t["term"] for h in result["hits"] for t in _bm25(h["explain"])["terms"] if t["kind"] == "feedback"}


def test_feedback_words_reorder_what_matched_and_never_make_an_item_match(all_engine):
    query = "covid hospital capacity forecasting"
    fed, unfed = _engine(all_engine, FED), _engine(all_engine, UNFED)
    plain = search(unfed, query, group=False, limit=100)
    result = fed.search(build_request(query, explain=True, group=False, limit=100))
    with_words, without = plan(query, fed.generation()), plan(query, unfed.generation())
    assert (with_words.mask == without.mask).all() and np.array_equal(with_words.strict, without.strict)
    assert not (with_words.scores == without.scores).all()
    extra = _feedback_terms(result)
    assert 0 < len(extra) <= FED.feedback_terms and "predict" in extra  # the top item's "helps hospitals predict"
    for hit in result["hits"][:10]:
        assert hit["explain"]["score"] == pytest.approx(hit["score"], abs=1e-6)
        bm25 = _bm25(hit["explain"])
        assert sum(t["value"] for t in bm25["terms"]) == pytest.approx(bm25["value"], rel=1e-9)
        marked = {text.lower() for part in hit["highlight"].values() for text, on in part if on}
        assert "predict" not in marked  # scored, never highlighted
    trial = "Coronavirus: AI trial hopes to help hospitals plan bed and ventilator demand"
    rank = [h["title"] for h in result["hits"]].index(trial)
    assert rank < [h["title"] for h in plain["hits"]].index(trial)


def test_feedback_expands_queries_of_two_to_four_words_only():
    assert [FED.feedback_for(n) for n in range(1, 7)] == [False, True, True, True, False, False]
    assert not UNFED.feedback_for(3)  # off
    assert dataclasses.replace(FED, feedback_until=0).feedback_for(9)  # no upper limit


def test_a_question_gets_no_feedback_words_and_keeps_its_rare_word_item_first(all_engine):
    """Feedback from a question's first top items lent it their subject (the police bans for the AFP question)."""
    question = "is Clearview being used by the Australian federal police"
    fed = _engine(all_engine, FED)
    assert _feedback_terms(fed.search(build_request(question, explain=True, group=False, limit=10))) == set()
    unlimited = _engine(all_engine, dataclasses.replace(FED, feedback_until=0))
    # without the limit it would get some: the limit is what keeps them out
    assert _feedback_terms(unlimited.search(build_request(question, explain=True, group=False, limit=10)))
    topical = "covid hospital capacity forecasting"
    assert _feedback_terms(fed.search(build_request(topical, explain=True, group=False, limit=10)))


def test_a_query_that_is_an_items_title_gets_no_feedback_words(all_engine):
    """The item looked for is found (the known-item signal): its list is not reordered by other items' words."""
    title, fed = "Deep learning takes on tumours", _engine(all_engine, FED)
    result = fed.search(build_request(title.lower(), explain=True, group=False, limit=20))
    assert result["hits"][0]["title"] == title and _feedback_terms(result) == set()
    plain = search(_engine(all_engine, UNFED), title.lower(), group=False, limit=20)
    assert [h["key"] for h in result["hits"]] == [h["key"] for h in plain["hits"]]
    near = fed.search(build_request("deep learning tumours", explain=True, group=False, limit=20))
    assert _feedback_terms(near)  # not the title: expanded


def test_feedback_is_off_by_default(all_engine):
    """Chosen on the tuning half, not confirmed on the fresh half (docs/relevance.md, sixth round)."""
    assert not POLICY.feedback_for(3)
    result = all_engine.search(build_request("covid hospital capacity forecasting", explain=True, group=False))
    assert _feedback_terms(result) == set()


def test_a_words_weight_in_coordination_falls_with_how_common_it_is_in_english():
    weight = POLICY.word_weight
    assert weight("is") == 0.0 and weight("the") == 0.0  # among the most frequent English words
    assert 0.0 < weight("why") < 1.0 and 0.0 < weight("did") < 1.0
    assert weight("clearview") == 1.0 and weight("ibm") == 1.0 and weight("recognition") == 1.0
    assert weight("zzqxv") == 1.0  # a word English lists do not hold is a subject, not a question word
    assert dataclasses.replace(POLICY, common_zipf=0.0).word_weight("is") == 1.0  # off


def test_a_questions_common_words_do_not_outweigh_its_subject(all_engine):
    """Judged blind (tuning half): "why", "did", "get" are rare in headlines, so their idf is high, and
    coordination ranked an item holding "Why" and "Business" first, above every item about IBM's exit."""
    query = "why did IBM get out of the facial recognition business"
    first = search(all_engine, query, group=False, limit=3)["hits"]
    assert "IBM" in first[0]["title"] and "facial recognition" in first[0]["title"].lower()
    # the failure the rule fixes, on each field's own idf as then ("why" rare in titles weighed more there)
    old = dataclasses.replace(PER_FIELD_BM25, common_zipf=0.0, idf_fields="field")
    before = search(SearchEngine(all_engine.index_dir, policy=old, cache_entries=0), query, group=False, limit=3)
    assert before["hits"][0]["title"].startswith("Why Maps Integration")


def test_explain_lists_each_words_weight_in_coordination(all_engine):
    query = "why did IBM get out of the facial recognition business"
    hits = all_engine.search(build_request(query, explain=True, group=False, limit=10))["hits"]
    for hit in hits:
        rule = next(r for r in hit["explain"]["rules"] if r["rule"] == "coordination")
        words = {w["word"]: w for w in rule["words"]}
        assert set(words) == {"why", "did", "ibm", "get", "out", "facial", "recognition", "business"}
        assert words["ibm"]["common_weight"] == 1.0 and words["why"]["common_weight"] < 1.0
        held = sum(w["weight"] for w in words.values() if w["held"])
        assert rule["factor"] == pytest.approx(held / sum(w["weight"] for w in words.values()), rel=1e-9)


def test_the_english_word_list_reads_as_wordfreq_itself_reads_it():
    """search.background reads wordfreq's data file without importing wordfreq (0.5 s of imports)."""
    from wordfreq import zipf_frequency

    from search.background import zipf

    for word in ("the", "why", "did", "business", "police", "recognition", "ibm", "tinnitus", "zzqxv", "won't"):
        assert zipf(word) == zipf_frequency(word, "en", wordlist="small"), word


def test_a_word_scanned_for_in_the_list_weighs_what_the_table_of_every_word_says(monkeypatch):
    """A command scans the word list for its few words; a server builds the table: one weight either way."""
    from search import background

    words = ("the", "why", "police", "recognition", "ibm", "tinnitus", "zzqxv", "won't", "")
    monkeypatch.setattr(background, "_scanned", {})
    scanned = [background.zipf(word) for word in words]
    assert background._scanned == dict(zip(words, scanned, strict=True))  # answered by scanning
    monkeypatch.setattr(background, "SCANNED_UP_TO", 0)
    assert [background.zipf(word) for word in ("x", *words)] == [background._zipf_table().get("x", 0.0), *scanned]
    assert "x" not in background._scanned


def test_the_cli_and_the_page_say_which_words_weigh_less_as_common_english(seeds_index):
    """`search-cli query --explain` and the page's "Why this result?" name the discounted words."""
    query = "how do police use facial recognition"
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), "SEARCH_INDEX": str(seeds_index)}
    out = subprocess.run(
        [sys.executable, "-m", "web.cli", "query", query, "--explain", "--limit", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    why = " ".join(line.strip() for line in out.stdout.splitlines() if line.startswith("     "))
    assert "(common words: how 0.26, do 0.15, use 0.69)" in why
    app = create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False, "EXPLAIN": True})
    page = app.test_client().get("/", query_string={"q": query}).get_data(as_text=True)
    assert "Why this result?" in page and "how: weight" in page and "(common in English: x0.26)" in page
    # each word's part by the word as typed ("police in title"), not its stem ("polic")
    assert re.search(r"<li>police in (title|excerpt): \d", page) and not re.search(r"<li>polic in ", page)
    # browsing ranks by quality alone: no "Why this result?" there
    assert "Why this result?" not in app.test_client().get("/").get_data(as_text=True)


def test_a_half_typed_or_misspelt_word_weighs_what_its_commonest_form_weighs(all_engine):
    """While typing, "facial rec" weighs "rec" as "recognition" will weigh, not as its rarest completion."""
    from dataclasses import replace

    from search.engine import SearchEngine

    def weights(query: str, engine: SearchEngine) -> dict[str, float]:
        hit = engine.search(build_request(query, explain=True, group=False, limit=1))["hits"][0]
        rule = next(r for r in hit["explain"]["rules"] if r["rule"] == "coordination")
        return {w["word"]: w["weight"] for w in rule["words"]}

    typed = weights("facial recognition", all_engine)["recognition"]
    for partial in ("facial rec", "facial recogni", "facial recogniton"):
        assert weights(partial, all_engine)[partial.split()[1]] == pytest.approx(typed, rel=1e-9), partial
    rarest = SearchEngine(all_engine.index_dir, policy=replace(all_engine.policy, form_idf="rarest"))
    assert weights("facial rec", rarest)["rec"] > 2 * typed  # the old rule: the rarest completion's idf


def test_a_word_weighs_one_idf_in_every_field(all_engine):
    """Judged blind (tuning half): "privacy" is rarer in titles than in text, so under each field's own
    idf a title holding it alone ("Governance, Privacy, and Ethics...", graded 0) outranked the copy
    of the biometric-privacy lawsuit item holding "biometric" and "privacy" in its text (graded 2)."""
    query = "biometric privacy class action"
    hits = search(all_engine, query, group=False, limit=5, explain=True)["hits"]
    titles = [h["title"] for h in hits]
    lawsuit = [i for i, t in enumerate(titles) if t.startswith("Microsoft, Amazon must face facial recognition")]
    assert lawsuit[:2] == [0, 1]
    for hit in hits:
        assert hit["explain"]["score"] == pytest.approx(hit["score"], abs=1e-6)
        idf: dict[str, set[float]] = {}
        for line in next(r for r in hit["explain"]["rules"] if r["rule"] == "bm25")["terms"]:
            idf.setdefault(line["term"], set()).add(round(line["idf"], 9))
        assert all(len(values) == 1 for values in idf.values())
    per_field = SearchEngine(all_engine.index_dir, policy=dataclasses.replace(PER_FIELD_BM25, idf_fields="field"))
    before = [h["title"] for h in search(per_field, query, group=False, limit=3)["hits"]]
    assert before[1].startswith("Governance, Privacy, and Ethics")  # the failure


def _item(folder, name: str, title: str, excerpt: str) -> None:
    (folder / f"2021-01-{name}.md").write_text(
        f'---\ntitle: "{title}"\nexcerpt: "{excerpt}"\nwebUrl: "https://x.org/{name}"\n'
        "publishedDateTime: 2021-01-02T03:04:05Z\nquality: 50\n---\n",
        encoding="utf-8",
    )


def test_a_second_query_word_outweighs_the_first_word_repeated_in_another_field(tmp_path):
    """BM25F sums a word's fields before saturating: an item holding "zeta" in its title and "omega" in
    its excerpt outscores one holding "zeta" in both, where per-field BM25 summed scored them alike."""
    folder, index = tmp_path / "seeds", tmp_path / "index"
    folder.mkdir()
    _item(folder, "repeats", "Zeta market update", "zeta rose today in a busy market")
    _item(folder, "both", "Zeta market update", "omega rose today in a busy market")
    _item(folder, "other", "Other news story", "omega fell today in a quiet market")
    for i in range(5):
        _item(folder, f"filler{i}", f"Filler story {i}", "nothing to see in this one at all")
    build.full_build(folder, index)
    bm25 = {}
    for policy in (POLICY, PER_FIELD_BM25):
        gen = SearchEngine(index, policy=policy, cache_entries=0).generation()
        found = plan("zeta omega", gen, relaxed=True)  # every item holding either word, scored
        bm25[policy.saturation] = {
            key: float(found.parts["bm25"][gen.live_docs(f"x.org/{key}")[0]]) for key in ("repeats", "both")
        }
    assert bm25["field"]["both"] == pytest.approx(bm25["field"]["repeats"], rel=1e-9)  # alike, as then
    assert bm25["document"]["both"] > 1.1 * bm25["document"]["repeats"]
