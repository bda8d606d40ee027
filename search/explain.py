"""Why a hit scored what it did: its score broken into the ranking policy's rules.

Modelled on Elasticsearch's ``explain`` (a tree of values with descriptions) and Meilisearch's
ranking score details (one entry per ranking rule, in order). The parts are read from the same
arrays the engine ranked with, and the per-term BM25 lines are recomputed from the same postings
and policy, so the breakdown adds up to the hit's ``score`` (tests check it to 1e-9).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import semantic
from .background import zipf
from .evaluate import tree_terms
from .expansion import Alternative
from .words import alternative_bm25, alternative_idf, word_idf  # what the engine scored with: explain shows the same


def explain(
    plan,
    gen,
    docnum: int,
    best_in_story: float | None,
    closeness: tuple[float, float] | None = None,
    rescored: float | None = None,
) -> dict[str, Any]:
    """The breakdown of one document's relevance score under ``plan`` (in the order of ``ranking.RULES``).

    ``rescored``: the weight the semantic rule re-ordered the first results by, None when it did not;
    ``closeness``, this item's (similarity, scale) when it was among them.
    """
    policy = gen.policy
    parts = plan.parts
    bm25 = float(parts["bm25"][docnum]) if "bm25" in parts else float(plan.scores[docnum])
    terms: list[dict[str, Any]] = []
    for entry in plan.scored:
        if isinstance(entry, list):  # a typed word: the alternative that scored best for this document
            lines = [_term_lines(gen, docnum, a.term, a.weight, a) for a in entry]
            best = max(range(len(lines)), key=lambda i: (sum(x["value"] for x in lines[i]), -i))
            terms += lines[best]
    for term, boosts in tree_terms(plan.scored).items():  # a query tree's terms, each over its fields
        terms += _term_lines(gen, docnum, term, 1.0, None, boosts)
    rules: list[dict[str, Any]] = []
    if plan.partial is not None:
        rules.append(
            {
                "rule": "words",
                "description": "items holding the words the query requires rank first (3-4 words: every word, "
                "when some item holds them all); the score orders each tier",
                "all_words": not bool(plan.partial[docnum]),
                "value": 0.0,
            }
        )
    rules += [
        {
            "rule": "bm25",
            "description": (
                "BM25F: per term, idf x its frequency in each field over the field's length norm x the field's"
                " boost, summed, saturated once (each field's line: its share)"
                if policy.saturation == "document"
                else "BM25: idf x saturated term frequency per term and field, times the field's boost"
            )
            + " (feedback words: x their weight)"
            if plan.scored
            else "no words to score: every match counts the same",
            "value": bm25,
            "terms": terms,
        }
    ]
    score = bm25
    if "coordination" in parts:
        factor = float(parts["coordination"][docnum])
        score *= factor
        share = "idf" if policy.coordination == "idf" else "words"
        rules.append(
            {
                "rule": "coordination",
                "description": f"x the share of the query's {share} the item holds"
                + (" (each word's idf x how uncommon it is in English)" if share == "idf" else ""),
                "factor": factor,
                "value": score,
                "words": _coordination_words(plan, gen, docnum, terms) if share == "idf" else [],
            }
        )
    if "title" in parts:
        bonus = float(parts["title"][docnum])
        score += bonus
        rules.append(
            {
                "rule": "title",
                "description": "+ bonus when the title holds every word (strong when it equals the query)",
                "bonus": bonus,
                "value": score,
            }
        )
    prior = float(gen.prior[docnum])
    score *= prior
    quality = int(gen.quality[docnum])
    rules.append(
        {
            "rule": "prior",
            "description": f"x quality prior 1 + {policy.quality_weight} x quality/100",
            "quality": quality if quality >= 0 else None,
            "factor": prior,
            "value": score,
        }
    )
    if best_in_story is not None:
        lift = policy.story_boost * best_in_story
        score += lift
        rules.append(
            {
                "rule": "story",
                "description": f"+ {policy.story_boost} x the best score in the item's story",
                "best_in_story": best_in_story,
                "value": score,
            }
        )
    if rescored is not None:
        rule: dict[str, Any] = {
            "rule": "semantic",
            "description": f"+ {rescored} x closeness in meaning to the query (cosine of the"
            f" {gen.vectors.model} vectors) x the best score, over the first {policy.semantic_window} results",
        }
        if closeness is None:
            rule.update(similarity=None, value=score, description=rule["description"] + ": not among them")
        else:
            score += semantic.lift(rescored, *closeness)
            rule.update(similarity=closeness[0], scale=closeness[1], value=score)
        rules.append(rule)
    return {"score": score, "rules": rules}


def _coordination_words(plan, gen, docnum: int, terms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each typed word's weight in coordination: its idf x the policy's weight for its commonness in English."""
    held = {line["term"] for line in terms}
    words = []
    for group in plan.scored:
        if not isinstance(group, list) or group[0].kind == "feedback":  # feedback words are not coordinated
            continue
        idf = word_idf(group, gen)
        common = gen.policy.word_weight(group[0].word)
        words.append(
            {
                "word": group[0].word,
                "zipf": zipf(group[0].word),
                "common_weight": common,
                "weight": idf,
                "held": any(a.term in held for a in group),
            }
        )
    return words


def _term_lines(gen, docnum: int, term: str, weight: float, alt, boosts=None) -> list[dict[str, Any]]:
    """One line per field in which the document holds ``term``, the lines adding up to the term's score.

    BM25F (``policy.saturation`` "document"): the term scores once, from its fields' normalised
    frequencies x their boosts summed; each line shows its field's frequency and that field's
    share of the score. Per-field BM25 ("field"): each line is its field's BM25 x the field's boost.
    """
    policy = gen.policy
    typed, alt = alt is not None, alt or Alternative(term, 1.0, "exact", term)
    document = policy.saturation == "document"
    lines = []
    for field, boost in (boosts or policy.boosts).items():
        if not boost:
            continue
        ids, tf = gen.scoring.postings(field, term)
        i = int(np.searchsorted(ids, docnum))
        if i < len(ids) and ids[i] == docnum:
            idf_term = alt.idf_term or term
            line = {"term": term, "field": field, "tf": float(tf[i]), "idf": gen.scoring.idf(field, idf_term)}
            if document:
                line["normalised_tf"] = float(gen.scoring.term_frequency(field, term)[1][i])
            else:
                line["bm25"] = float(alternative_bm25(alt, field, gen)[1][i])
                line["value"] = boost * line["bm25"] * weight
            line["boost"] = boost
            if typed:
                line.update(kind=alt.kind, word=alt.word, weight=weight)
            if idf_term != term:  # a word written together or apart: the typed word's idf (policy.compound_idf)
                line.update(idf_of=idf_term)
            lines.append(line)
    if document and lines:
        frequency = sum(line["boost"] * line["normalised_tf"] for line in lines)
        score = weight * float(policy.saturate(alternative_idf(alt, gen), np.float64(frequency)))
        for line in lines:
            line.update(bm25f=score, value=score * line["boost"] * line["normalised_tf"] / frequency)
    return lines
