"""The field table drives the schema, facets, filters, labels, OpenAPI and the export; facet rows are plain data."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs

from indexer import schema
from search import export
from search.request import FILTER_ALIASES, build_request
from tests.conftest import search
from web.openapi import openapi_document


def test_the_schema_and_every_name_come_from_the_field_table():
    built = schema.build_schema()
    assert list(built.names()) == sorted(f.name for f in schema.FIELDS)
    assert set(schema.FACETS) == set(schema.FACET_FIELDS) == {f.name for f in schema.FIELDS if f.facet}
    assert FILTER_ALIASES == {"source": "provider", "publisher": "provider", "topic": "topics", "tag": "topics"}
    assert schema.ALIASES["date"] == "published"
    api = openapi_document()["paths"]["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]
    assert set(api["schema"]["properties"]["facets"]["properties"]) == set(schema.FACET_FIELDS)
    aggs = export.search_template()["script"]["source"]["aggs"]
    assert {field: aggs[field]["terms"]["size"] for field in schema.FACETS} == {
        field: facet.size for field, facet in schema.FACETS.items()
    }


def test_changing_how_a_field_is_derived_changes_the_schema_version():
    before = "\n".join(f.fingerprint() for f in schema.FIELDS)
    changed = [
        dataclasses.replace(f, value=lambda d: d.title.upper()) if f.name == "title" else f for f in schema.FIELDS
    ]
    assert "\n".join(f.fingerprint() for f in changed) != before
    assert len(schema.schema_version()) == 16


def test_facet_rows_are_datasette_rows_with_working_toggle_urls(engine):
    result = search(engine, "police")
    topics = result["facets"]["topics"]
    row = topics[0]
    assert set(row) == {"value", "label", "count", "selected", "toggle_url"} and not row["selected"]
    added = parse_qs(row["toggle_url"].lstrip("?"))
    assert added == {"q": ["police"], "filter": [f"topics:{row['value']}"]}
    narrowed = search(engine, "police", filters=added["filter"])
    assert narrowed["total"] == row["count"]
    chosen = next(r for r in narrowed["facets"]["topics"] if r["value"] == row["value"])
    assert chosen["selected"] and parse_qs(chosen["toggle_url"].lstrip("?")) == {"q": ["police"]}
    kinds = {r["value"]: r["label"] for r in result["facets"]["kind"]}
    assert kinds == {"article": "Articles", "related": "Related coverage"}
    assert result["facet_meta"]["provider"]["label"] == "Source"


def test_a_facet_says_when_values_were_left_out(engine):
    size = schema.FACETS["provider"].size
    everything = engine.search(build_request("", limit=1))
    providers = everything["facets"]["provider"]
    assert len(providers) <= size
    distinct = len(engine.generation().facets["provider"].values)
    assert everything["facet_meta"]["provider"]["truncated"] == (distinct > size)
    assert everything["facet_meta"]["kind"]["truncated"] is False
