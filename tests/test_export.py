"""OpenSearch export: the files round-trip to exactly the indexed documents and obey their own mapping."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from click.testing import CliRunner

from search.export import MAX_ID_BYTES, document_id, index_definition, search_template
from search.ranking import POLICY
from tests.conftest import search
from web.cli import main as cli_main


def read_bulk(out_dir) -> list[tuple[dict, dict]]:
    pairs = []
    for path in sorted(out_dir.glob("bulk-*.ndjson")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) % 2 == 0, f"{path.name}: actions and sources must pair up"
        pairs += [(json.loads(a), json.loads(d)) for a, d in zip(lines[::2], lines[1::2], strict=True)]
    return pairs


def conforms(value, spec: dict) -> bool:
    """Whether a source value fits a mapping's field type (arrays of the type are allowed)."""
    values = value if isinstance(value, list) else [value]
    kind = spec["type"]
    if kind in ("keyword", "text"):
        return all(isinstance(v, str) for v in values)
    if kind == "integer":
        return all(isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31 for v in values)
    if kind == "date":
        return all(dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values)
    raise AssertionError(f"unexpected mapping type {kind}")


def test_export_round_trips_every_live_document(all_engine, tmp_path):
    out = tmp_path / "export"
    result = CliRunner().invoke(
        cli_main, ["--index", str(all_engine.index_dir), "export", "--format", "opensearch", str(out), "--batch", "200"]
    )
    assert result.exit_code == 0, result.output
    gen = all_engine.generation()
    live = int(gen.live.sum())
    assert f"exported {live:,} documents" in result.output
    pairs = read_bulk(out)
    assert len(list(out.glob("bulk-*.ndjson"))) == -(-live // 200)

    definition = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert definition == index_definition()
    properties = definition["mappings"]["properties"]
    ids = [action["index"]["_id"] for action, _ in pairs]
    assert len(pairs) == live and len(set(ids)) == live
    assert all(len(i.encode()) <= MAX_ID_BYTES for i in ids)
    for action, doc in pairs:
        assert action["index"]["_index"] == "news" and action["index"]["_id"] == document_id(doc["key"])
        assert set(doc) <= set(properties), set(doc) - set(properties)  # the mapping is strict
        for field, value in doc.items():
            assert conforms(value, properties[field]), (field, value)

    # back to the engine: every exported document is the indexed one, field by field
    by_key = {doc["key"]: doc for _, doc in pairs}
    flat = search(all_engine, "", group=False, limit=100)
    for hit in flat["hits"]:
        doc = by_key[hit["key"]]
        assert (doc["title"], doc.get("excerpt", ""), doc["url"]) == (hit["title"], hit["excerpt"], hit["url"])
        assert doc.get("topics", []) == hit["topics"] and doc.get("published") == hit["published"]
        assert doc.get("quality") == hit["quality"] and doc["story"] == hit["story"]


def test_mapping_references_only_what_it_defines_and_the_template_ranks_like_the_engine():
    definition = index_definition()
    analysis = definition["settings"]["analysis"]

    def walk(properties):
        for spec in properties.values():
            yield spec
            yield from walk(spec.get("fields", {}))

    for spec in walk(definition["mappings"]["properties"]):
        if "analyzer" in spec:
            assert spec["analyzer"] in analysis["analyzer"]
        if "normalizer" in spec:
            assert spec["normalizer"] in analysis["normalizer"]
        if "similarity" in spec:
            assert spec["similarity"] in definition["settings"]["similarity"]
    for analyzer in analysis["analyzer"].values():
        assert all(f in analysis["filter"] or f in ("lowercase", "asciifolding") for f in analyzer["filter"])

    source = search_template()["script"]["source"]
    scored = source["query"]["function_score"]
    assert scored["boost_mode"] == "multiply" and scored["functions"][1]["field_value_factor"]["field"] == "quality"
    # BM25F (the policy's saturation): combined_fields, the boosts scaled so the smallest is 1 (title 2.5 -> 5)
    assert source["query"]["function_score"]["query"]["bool"]["must"]["combined_fields"]["fields"][0] == "title^5"
    assert source["collapse"]["field"] == "story"
    assert {"topics", "provider", "year", "month", "kind", "timeline"} <= set(source["aggs"])


def test_the_template_scores_feedback_words_as_the_policy_says_and_only_when_it_is_on():
    def feedback_clauses(policy):
        should = search_template(policy)["script"]["source"]["query"]["function_score"]["query"]["bool"]["should"]
        clauses = [c.get("combined_fields") or c.get("multi_match") or {} for c in should]
        return [c for c in clauses if c.get("query") == "{{feedback}}"]

    fed = dataclasses.replace(POLICY, feedback_from=2)
    (clause,) = feedback_clauses(fed)
    assert clause["boost"] == pytest.approx(fed.feedback_weight * 3 / fed.feedback_terms)
    assert clause["zero_terms_query"] == "none" and clause["fields"][0] == "title^5"  # scores, never matches
    assert feedback_clauses(dataclasses.replace(POLICY, feedback_from=0)) == []


def test_long_urls_get_a_stable_digest_id():
    long_key = "example.org/" + "a" * 600
    assert document_id(long_key) == document_id(long_key) != long_key
    assert len(document_id(long_key).encode()) <= MAX_ID_BYTES
    assert document_id("example.org/short") == "example.org/short"
