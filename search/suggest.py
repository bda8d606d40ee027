"""Answers beside the ranked list: did-you-mean, and more like this.

Both read the generation's own vocabulary and statistics, so a suggestion always names words that
live items hold, and "similar" items are scored by the same word scorer as a search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from indexer.analysis import analyze
from indexer.text import canonical_url, clean_query

from .evaluate import plan, plan_groups
from .expansion import Alternative
from .facets import fold
from .generation import Generation
from .hits import member, page_of_hits
from .qtree import Words
from .query import ParsedQuery
from .request import SearchRequest

SIMILAR_TERMS = 12  # distinctive words of an item used to find similar ones
SUGGEST_EDITS = 2  # a did-you-mean word is at most this many edits from the typed one
SUGGEST_CANDIDATES = 8


def did_you_mean(parsed: ParsedQuery, gen: Generation, filters: list[np.ndarray], total: int) -> str | None:
    """A corrected query from the index's own words, offered only when it finds more than ``total``."""
    if not parsed.plain or not parsed.words:
        return None
    vocabulary = gen.vocabulary()
    changed = False
    words = []
    for word in parsed.words:
        low = fold(word).lower()
        if len(low) < 3 or low.isdigit() or vocabulary.frequency(low) > 0:
            words.append(word)
            continue
        # the closest live word, the most frequent among equally close ones
        candidates = vocabulary.lookup(low, SUGGEST_EDITS, SUGGEST_CANDIDATES)
        if candidates:
            words.append(candidates[0][0])
            changed = True
        else:
            words.append(word)
    if not changed:
        return None
    text = " ".join(words)
    mask = plan(text, gen).strict
    for fmask in filters:
        mask &= fmask
    return text if int(mask.sum()) > total else None


RELATED_SHOWN = 100  # of an article's related: list, on the similar-items page and in /api/similar


def similar(gen: Generation, url: str, limit: int = 10) -> dict[str, Any] | None:
    """Items most like the one at ``url`` (its most distinctive words, scored as a query); None if unknown."""
    found = gen.live_docs(clean_query(url))  # a replaced version of the item is not it
    if len(found) == 0:
        return None
    docnum = int(found[0])
    source = gen.stored(docnum)
    # tf x idf over the item's own text, title words twice; a word common in any English text ("would",
    # "there") weighs less, by the rule coordination weighs typed words by (a stem that is no word weighs 1)
    weights: dict[str, float] = {}
    for text, factor in ((source.get("title", ""), 2.0), (source.get("excerpt", ""), 1.0)):
        for term in analyze(text):
            weights[term] = weights.get(term, 0.0) + factor * gen.scoring.idf("excerpt", term)
    weights = {term: w * gen.policy.word_weight(term) for term, w in weights.items()}
    terms = sorted(weights, key=lambda t: (-weights[t], t))[:SIMILAR_TERMS]
    # scored as a search for those words (any of them), by the same path and policy as every query
    parsed = ParsedQuery(" ".join(terms), Words(tuple(terms), any_word=True), [], plain=True)
    found = plan_groups(parsed, [[Alternative(t, 1.0, "exact", t)] for t in terms], gen, relaxed=True)
    mask = found.mask.copy()
    mask[docnum] = False
    hits, _ = page_of_hits(found, SearchRequest(limit=limit, group=False), gen, mask)
    return {
        "url": source.get("url", url),
        "title": source.get("title", ""),
        "terms": terms,
        "hits": hits,
        **related_coverage(gen, source.get("key") or canonical_url(url)),
    }


def related_coverage(gen: Generation, key: str) -> dict[str, Any]:
    """The items the publisher listed under an article (its ``related:`` list), newest first.

    ``related`` holds the newest ``RELATED_SHOWN``, ``related_total`` counts them all: a seed file may
    list tens of thousands, and reading each one's stored fields took seconds and megabytes. Stories
    are events (``indexer.events``), not these lists; the list stays the publisher's own.
    """
    listed = gen.store.postings("listed_by", key)[0] if "listed_by" in gen.store.field_names() else []
    docs = [int(d) for d in listed if gen.live[int(d)]]
    docs.sort(key=lambda d: (-int(gen.published[d]), int(gen.tiebreak[d])))
    return {"related": [member(gen.stored(d)) for d in docs[:RELATED_SHOWN]], "related_total": len(docs)}
