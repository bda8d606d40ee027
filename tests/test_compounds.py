"""Words written together or apart (search.compounds), on the evaluation collection's real index."""

from __future__ import annotations

import dataclasses
import gc
import weakref

import pytest

from indexer import build
from search.compounds import MAX_SPLITS, NEW_PAIRS, adjacent_counter, split_word
from search.engine import SearchEngine
from search.ranking import POLICY
from search.request import build_request
from tests.conftest import PER_FIELD_BM25, search
from tests.test_documents import seed

OFF = dataclasses.replace(POLICY, compound_weight=0.0, feedback_from=0)  # feedback alone finds the drone items


def _terms(hit: dict) -> list[dict]:
    return next(rule for rule in hit["explain"]["rules"] if rule["rule"] == "bm25")["terms"]


def test_words_written_apart_also_find_the_word_written_together(all_engine):
    """Judged blind (tuning half): for "drone cyber-security" the items on drone cybersecurity write it
    as one word, so they lacked "cyber" and "security" and a drone camera's item ranked first."""
    query = "drone cyber-security"
    hits = all_engine.search(build_request(query, explain=True, group=False, limit=3))["hits"]
    assert len(hits) == 3
    for hit in hits:
        assert "cybersecurity" in hit["title"].lower() and not hit["partial"]
        assert any(t["kind"] == "joined" and t["word"] == "cybersecurity" for t in _terms(hit))
        assert hit["explain"]["score"] == pytest.approx(hit["score"], abs=1e-6)
        assert any(on and text.lower() == "cybersecurity" for text, on in hit["highlight"]["title"])
    off = SearchEngine(all_engine.index_dir, policy=OFF, cache_entries=0)
    assert search(off, query, group=False, limit=1)["hits"][0]["title"].startswith("Your next drone")  # the failure
    assert (
        all_engine.search(build_request(query, typos=False, group=False))["total"]
        == off.search(build_request(query, group=False))["total"]
    )  # words as typed: no other forms


def test_a_word_written_together_also_finds_it_written_apart(all_engine):
    """Judged blind (tuning half): "PowerApps portal" matched the few items writing "PowerApps"; the
    Power Apps portals items, written apart, only filled the page as items lacking a word."""
    together = search(all_engine, "PowerApps portal", group=False, limit=10)["hits"]
    apart = search(all_engine, "Power Apps portal", group=False, limit=10)["hits"]
    assert [h["key"] for h in together] == [h["key"] for h in apart]  # one query, however it is written
    assert sum("power apps portal" in h["title"].lower() and not h["partial"] for h in together) >= 5
    off = SearchEngine(all_engine.index_dir, policy=OFF, cache_entries=0)
    before = search(off, "PowerApps portal", group=False, limit=10)["hits"]
    assert sum("power apps portal" in h["title"].lower() and not h["partial"] for h in before) == 0


def test_a_last_word_that_completes_to_longer_words_is_still_read_as_two(all_engine):
    """Found by an adversarial pass: "powerapps" also completes ("powerappscall"), and a completing last
    word was never split, so it found 6 items where "Power Apps" finds 100+, and word order mattered."""
    apart = search(all_engine, "Power Apps", group=False)["total"]
    assert apart > 100
    assert search(all_engine, "PowerApps", group=False)["total"] == apart
    keys = [h["key"] for h in search(all_engine, "mobile PowerApps", group=False, limit=10)["hits"]]
    assert keys == [h["key"] for h in search(all_engine, "PowerApps mobile", group=False, limit=10)["hits"]]


def test_a_word_is_read_as_two_only_where_the_index_holds_them_side_by_side(all_engine):
    gen = all_engine.generation()
    vocabulary, adjacent = gen.vocabulary(), adjacent_counter(gen)
    assert split_word("PowerApps", vocabulary, POLICY, adjacent) == ("power", "apps", "powerapp")
    assert split_word("powerapp", vocabulary, POLICY, adjacent) == ("power", "app", "powerapp")  # no item has it
    # "face" and "book" are both words, and items hold both, never side by side
    assert vocabulary.frequency("face") and vocabulary.frequency("book")
    assert split_word("Facebook", vocabulary, POLICY, adjacent) is None
    assert split_word("online", vocabulary, POLICY, adjacent) is None  # "on" is a stop word
    assert split_word("PowerApps", vocabulary, OFF, adjacent) is None
    hit = all_engine.search(build_request("Facebook", explain=True, group=False, limit=1))["hits"][0]
    assert {t["kind"] for t in _terms(hit)} == {"exact"}


def test_one_query_reads_and_splits_a_bounded_number_of_pairs(all_engine):
    """A query of 64 run-together words must not read 64 pairs' items, nor score twice its words."""
    gen = all_engine.generation()
    exhausted = adjacent_counter(gen)
    for i in range(NEW_PAIRS):  # pairs never seen: each costs a read
        assert exhausted(f"zzq{i}", "zzq", 0) == 0
    assert exhausted("power", "platform", 0) == 0  # the budget is spent: as typed
    fresh = adjacent_counter(gen)
    assert fresh("power", "platform", 0) > 0  # "Power Platform", side by side in many items
    found = [fresh("power", "platform", 0) for _ in range(MAX_SPLITS + 2)]  # kept: no read, but counted
    assert sum(n > 0 for n in found) == MAX_SPLITS - 1 and found[-1] == 0


def test_the_pairs_a_generation_keeps_do_not_keep_the_generation(all_engine):
    """The generation keeps them and they hold no reference back: a table of pairs holding its generation
    kept every generation (and its open files) alive for good, until a server under updates ran out of
    file descriptors."""
    engine = SearchEngine(all_engine.index_dir, cache_entries=0)
    assert search(engine, "PowerApps portal", group=False)["total"]  # reads and keeps a pair
    generation = weakref.ref(engine.generation())
    del engine
    gc.collect()
    assert generation() is None


POWER_APPS_TITLES = [
    "Maps in Power Apps",
    "Power Apps portals improvements",
    "Mobile offline for Power Apps",
    "Power Apps code review tool",
    "Considerations for performance in Power Apps",
    "Power Apps community call",
    "Update your bookmarks for PowerApps",  # the rare joined spelling, and no other query word
    "Power BI dashboards",
    "Power Automate flows",
    "Teams apps store",
    "Azure maps for developers",
]


@pytest.fixture(scope="module")
def power_apps_engine(tmp_path_factory) -> SearchEngine:
    """Eleven titles: "Power Apps" written apart in most, "PowerApps" in one (as the Power Apps corpus has it)."""
    folder = tmp_path_factory.mktemp("compound-seeds")
    for i, title in enumerate(POWER_APPS_TITLES):
        (folder / f"2021-01-{i:04d}.md").write_text(seed(title, f"https://p.org/{i}"))
    index = tmp_path_factory.mktemp("compound-index")
    build.full_build(folder, index)
    return SearchEngine(index, cache_entries=0)


@pytest.mark.parametrize("query", ["maps in Power Apps", "maps in PowerApps"])
def test_a_rare_spelling_of_the_words_weighs_what_the_typed_words_weigh(power_apps_engine, query):
    """Judged blind (tuning half, round 5): for "maps in Power Apps" the items writing "PowerApps" and no
    other query word ranked 2nd, 3rd and 5th, above the Power Apps items, on the rare spelling's own idf;
    all graded 0. Held by 1 of 11 items here, "powerapp" scored each of the two words it stands for
    with its own high idf."""
    hits = search(power_apps_engine, query, explain=True, group=False, limit=20)["hits"]
    titles = [h["title"] for h in hits]
    assert titles[0] == "Maps in Power Apps"
    joined = titles.index("Update your bookmarks for PowerApps")  # still found: it holds both words
    apart = [i for i, t in enumerate(titles) if "Power Apps" in t and t != "Maps in Power Apps"]
    assert len(apart) == 5 and max(apart) < joined
    lines = [t for t in _terms(hits[joined]) if t["kind"] in ("joined", "split")]
    assert {t["idf_of"] for t in lines} == {"power", "app"}  # explain names the idf it was scored with
    gen = power_apps_engine.generation()
    assert all(t["idf"] == gen.scoring.idf(t["field"], t["idf_of"]) for t in lines)
    assert hits[joined]["explain"]["score"] == pytest.approx(hits[joined]["score"], abs=1e-6)  # score: 6 places
    # the failure: second, on its own idf (and each field's own, as then)
    own = SearchEngine(
        power_apps_engine.index_dir, policy=dataclasses.replace(PER_FIELD_BM25, compound_idf="own", idf_fields="field")
    )
    before = [h["title"] for h in search(own, query, group=False, limit=20)["hits"]]
    assert before.index("Update your bookmarks for PowerApps") == 1
