"""The OpenAPI description of the JSON API."""

from __future__ import annotations

from typing import Any

from indexer.schema import FACET_FIELDS
from search.request import FILTER_FIELDS, MAX_LIMIT, MAX_PAGE, SORTS
from search.suggest import RELATED_SHOWN

_FACET = {
    "type": "array",
    "description": "facet rows as Datasette has them; toggle_url is the query string adding or removing the value",
    "items": {
        "type": "object",
        "required": ["value", "label", "count", "selected", "toggle_url"],
        "properties": {
            "value": {"type": "string"},
            "label": {"type": "string"},
            "count": {"type": "integer"},
            "selected": {"type": "boolean"},
            "toggle_url": {"type": "string"},
        },
    },
}
_FACET_META = {
    "type": "object",
    "required": ["label", "truncated"],
    "properties": {"label": {"type": "string"}, "truncated": {"type": "boolean"}},
}
_HIT = {
    "type": "object",
    "required": ["url", "title", "excerpt", "provider", "published", "quality", "kind", "topics", "score"],
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "excerpt": {"type": "string"},
        "provider": {"type": "string"},
        "provider_domain": {"type": "string"},
        "published": {"type": ["string", "null"], "format": "date-time"},
        "quality": {"type": ["integer", "null"]},
        "heat": {"type": ["integer", "null"]},
        "kind": {"type": "string", "enum": ["article", "related"]},
        "topics": {"type": "array", "items": {"type": "string"}},
        "image": {"type": ["string", "null"]},
        "score": {"type": ["number", "null"], "description": "null when sorted by date or quality"},
        "key": {"type": "string", "description": "canonical URL: the document's identity"},
        "parents": {"type": "array", "items": {"type": "string"}},
        "sources": {"type": "array", "items": {"type": "string"}},
        "highlight": {
            "type": "object",
            "description": "HTML-escaped text with matched words in <mark>",
            "properties": {"title": {"type": "string"}, "excerpt": {"type": "string"}},
        },
        "story": {
            "type": "string",
            "description": "the story's id: its earliest item's key (filter story:ID: the story holding that item)",
        },
        "story_items": {"type": "integer", "description": "items of the whole story (an event), matching or not"},
        "story_sources": {"type": "integer", "description": "distinct sources of the story (when it has 2+ items)"},
        "story_first": {"type": "string", "format": "date-time", "description": "the story's first item's date"},
        "story_last": {"type": "string", "format": "date-time", "description": "the story's last item's date"},
        "more": {"type": "integer", "description": "other matching items of this story (grouped results)"},
        "more_items": {
            "type": "array",
            "description": "the best few of those other items",
            "items": {
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "title": {"type": "string"},
                    "provider": {"type": "string"},
                    "published": {"type": ["string", "null"]},
                    "kind": {"type": "string"},
                    "key": {"type": "string"},
                },
            },
        },
        "partial": {
            "type": "boolean",
            "description": "lacks some of the words: ranked after the items holding every word (3-4 words) "
            "or filling a short page",
        },
        "missing": {
            "type": "array",
            "items": {"type": "string"},
            "description": "typed words the item holds in none of their forms (absent when it holds them all)",
        },
    },
}
_ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
}


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 document for /api/search, /api/suggest and /healthz."""
    error = {"description": "A parameter is invalid", "content": {"application/json": {"schema": _ERROR}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "News search API", "version": "1"},
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "Ranked, faceted search (same object as `search-cli query --json`)",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 1000}},
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10},
                        },
                        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(SORTS)}},
                        {
                            "name": "group",
                            "in": "query",
                            "description": "1 (default): one hit per story; 0: every item",
                            "schema": {"type": "integer", "enum": [0, 1], "default": 1},
                        },
                        {
                            "name": "filter",
                            "in": "query",
                            "description": f"FIELD:VALUE, repeatable; FIELD is one of {', '.join(FILTER_FIELDS)}",
                            "schema": {"type": "array", "items": {"type": "string"}},
                            "style": "form",
                            "explode": True,
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Results",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["query", "total", "page", "hits", "facets", "suggestion"],
                                        "properties": {
                                            "query": {"type": "string"},
                                            "total": {"type": "integer"},
                                            "stories": {"type": "integer"},
                                            "group": {"type": "boolean"},
                                            "page": {"type": "integer"},
                                            "limit": {"type": "integer"},
                                            "pages": {"type": "integer"},
                                            "sort": {"type": "string"},
                                            "hits": {"type": "array", "items": _HIT},
                                            "facets": {
                                                "type": "object",
                                                "properties": dict.fromkeys(FACET_FIELDS, _FACET),
                                            },
                                            "facet_meta": {
                                                "type": "object",
                                                "description": "per facet: its label, and whether values were left out",
                                                "properties": dict.fromkeys(FACET_FIELDS, _FACET_META),
                                            },
                                            "timeline": {
                                                "type": "object",
                                                "description": "matching items per period, empty ones included;"
                                                " each links to filter=date:START..END",
                                                "properties": {
                                                    "interval": {
                                                        "enum": [
                                                            "week",
                                                            "month",
                                                            "year",
                                                            "decade",
                                                            "century",
                                                            "millennium",
                                                            None,
                                                        ]
                                                    },
                                                    "undated": {"type": "integer"},
                                                    "buckets": {
                                                        "type": "array",
                                                        "items": {
                                                            "type": "object",
                                                            "properties": {
                                                                "start": {"type": "string", "format": "date"},
                                                                "end": {"type": "string", "format": "date"},
                                                                "count": {"type": "integer"},
                                                                "selected": {"type": "boolean"},
                                                            },
                                                        },
                                                    },
                                                },
                                            },
                                            "suggestion": {"type": ["string", "null"]},
                                            "corrected": {"type": ["string", "null"]},
                                            "corrected_also": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                                "description": "other close spellings the misspelt words matched",
                                            },
                                            "relaxed": {"type": "boolean"},
                                            "partial": {
                                                "type": "integer",
                                                "description": "of total, items with only some of the words",
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "400": error,
                        "503": {"description": "No index has been built yet"},
                    },
                }
            },
            "/api/similar": {
                "get": {
                    "summary": "Items most like the one at `url` (more like this)",
                    "parameters": [{"name": "url", "in": "query", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "The item, the words used, and similar items",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "url": {"type": "string"},
                                            "title": {"type": "string"},
                                            "terms": {"type": "array", "items": {"type": "string"}},
                                            "hits": {"type": "array", "items": _HIT},
                                            "related": {
                                                "type": "array",
                                                "items": {"type": "object"},
                                                "description": f"The related: list, newest {RELATED_SHOWN} first",
                                            },
                                            "related_total": {"type": "integer", "minimum": 0},
                                        },
                                    }
                                }
                            },
                        },
                        "400": error,
                        "404": {"description": "The item is not in the index"},
                    },
                }
            },
            "/feed.atom": {
                "get": {
                    "summary": "Atom feed of the newest items matching `q` and `filter`",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {"name": "filter", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    ],
                    "responses": {"200": {"description": "application/atom+xml"}, "400": {"description": "Bad filter"}},
                }
            },
            "/api/events": {
                "post": {
                    "summary": "Analytics events from the page: a settled search or an opened result",
                    "responses": {"204": {"description": "Accepted"}, "400": {"description": "Not an event"}},
                }
            },
            "/api/suggest": {
                "get": {
                    "summary": "Titles for autocomplete",
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "Suggestions"}},
                }
            },
            "/healthz": {"get": {"summary": "Health probe", "responses": {"200": {"description": "Serving"}}}},
        },
    }
