"""Plain words scored over their posting lists: BM25F per word, its completions and corrections.

Each query word is a group of alternatives (``search.expansion``): the word itself, and for the
last word its completions, for a misspelt word its close spellings, each with a weight below 1.
A document's score for a word is its best alternative's (weight x its BM25F over the fields),
so an item never gains from holding several spellings of one word, and exact words rank above
completions and corrections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .expansion import Alternative

DENSE_SHARE = 0.75  # postings (summed over words, forms and fields) from which arrays over every document are cheaper
REMEMBER_FROM = 8  # a word whose postings hold 1/8 of the collection keeps its arrays over every document
REMEMBER_SPARSE_FROM = 32  # ... and from 1/32 its arrays over the documents holding it


@dataclass
class WordScores:
    """A query's words (each a group of alternatives), scored over the documents holding any of them.

    Every array is aligned with ``ids`` (ascending): the documents holding at least one of the
    words, so that a query costs what its posting lists hold, not the size of the collection; or,
    for words held by much of the collection, every document. A document outside ``ids`` holds
    none of the words and would score 0 in every array.
    """

    ids: np.ndarray  # the documents the arrays cover: those holding some word (in some form, in some field), or all
    scores: np.ndarray  # boosted BM25 summed over words (each word: its best alternative)
    title_scores: np.ndarray  # unboosted title BM25 summed over words
    matched: np.ndarray  # how many of the words each document holds (in some form, in some field)
    in_title: np.ndarray  # how many of the words each document holds in its title
    matched_idf: np.ndarray  # the summed idf of the words each document holds
    total_idf: float  # the summed idf of all the words
    words: int  # how many words were scored

    @classmethod
    def of(cls, groups: list[list[Alternative]], gen, dense: bool | None = None) -> WordScores:
        """Score every group of alternatives for every document holding one of them.

        Over those documents only, unless their postings hold ``DENSE_SHARE`` of the collection
        (or ``dense``): arrays over every document are then cheaper than finding each posting's place.
        """
        held = [_postings_held(group, gen) for group in groups]  # counted once: each group reads its own
        if dense is None:
            dense = sum(held) >= DENSE_SHARE * gen.doc_count
        return _dense_of(groups, held, gen) if dense else _sparse_of(groups, held, gen)

    def coordination(self, policy) -> np.ndarray:
        """Per document of ``ids``, the share of the query it holds: of the words, or of their idf."""
        if policy.coordination == "idf":
            return policy.coordination_factor(self.matched_idf, self.total_idf)
        return policy.coordination_factor(self.matched.astype(np.float64), float(self.words))


def _dense_of(groups: list[list[Alternative]], held: list[int], gen) -> WordScores:
    """``WordScores`` with arrays over every document of the generation (``ids``: all of them)."""
    n = gen.doc_count
    scores, title_scores, matched_idf = np.zeros(n), np.zeros(n), np.zeros(n)
    matched, in_title = np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32)
    total_idf = 0.0
    for group, postings in zip(groups, held, strict=True):
        word_scores, word_title, holds, titled = _group_scores(group, gen, postings)
        scores += word_scores
        title_scores += word_title
        matched += holds
        in_title += titled
        idf = word_idf(group, gen)
        # matched_idf[holds] += idf: adding 0.0 elsewhere leaves those floats as they are, and a plain
        # add over every document is ~10x cheaper than np.add(..., where=holds) (0.9 ms at 100k)
        matched_idf += holds * idf
        total_idf += idf
    return WordScores(np.arange(n), scores, title_scores, matched, in_title, matched_idf, total_idf, len(groups))


def alternative_scores(alt: Alternative, gen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weighted score over the fields, weighted title BM25, which documents hold it), over every document.

    The same floats as ``sparse_alternative`` where it holds; added straight into arrays of every
    document, as a common word's are cheaper so than placed through the union of its postings.
    """
    n = gen.doc_count
    parts = _field_parts(alt, _scored_fields(gen), gen)
    holds = np.zeros(n, dtype=bool)
    for _, _, field_ids, _ in parts:
        holds[field_ids] = True
    scores, title = _summed(alt, parts, n, lambda field_ids: field_ids, gen)
    return (*_weighted(alt, scores, title), holds)


def _group_scores(group: list[Alternative], gen, postings: int | None = None) -> tuple[np.ndarray, ...]:
    """(best form's scores, its title scores, which documents hold a form, which hold one in the title), read-only.

    A word (with its forms) held by many documents keeps these arrays for the generation
    (``ScoringData.remembered``): a common word costs its passes over every document once.
    """
    postings = _postings_held(group, gen) if postings is None else postings  # known when called by WordScores.of
    if postings * REMEMBER_FROM >= gen.doc_count:
        key = ("dense group", *((alt.term, alt.weight, alt.idf_term) for alt in group))
        return gen.scoring.remembered(key, lambda: _group_arrays(group, gen))
    return _group_arrays(group, gen)


def _group_arrays(group: list[Alternative], gen) -> tuple[np.ndarray, ...]:
    scores, title, holds = alternative_scores(group[0], gen)
    titled = title > 0
    for alt in group[1:]:
        # completions and corrections touch only their own postings: no whole-collection arrays each
        ids, alt_scores, alt_title = sparse_alternative(alt, gen)
        better = alt_scores > scores[ids]
        replaced = np.compress(better, ids)
        scores[replaced] = np.compress(better, alt_scores)
        title[replaced] = np.compress(better, alt_title)
        holds[ids] = True
        titled[np.compress(alt_title > 0, ids)] = True
    return scores, title, holds, titled


def _sparse_of(groups: list[list[Alternative]], held: list[int], gen) -> WordScores:
    """``WordScores`` over the documents holding some word: the same floats as ``_dense_of`` there.

    Each word's arrays cover exactly the documents holding it (in some form, in some field).
    """
    scored = [_kept_sparse_group(group, gen, postings) for group, postings in zip(groups, held, strict=True)]
    ids = _union([group_ids for group_ids, *_ in scored], gen.doc_count)
    slots, m = _Slots(ids, gen.doc_count), len(ids)
    scores, title_scores, matched_idf = np.zeros(m), np.zeros(m), np.zeros(m)
    matched, in_title = np.zeros(m, dtype=np.int32), np.zeros(m, dtype=np.int32)
    total_idf = 0.0
    for group, (group_ids, word_scores, word_title, titled) in zip(groups, scored, strict=True):
        # in the order of the words, as summing over every document did: the same floats
        slot = slots.of(group_ids)
        scores[slot] += word_scores
        title_scores[slot] += word_title
        matched[slot] += 1
        in_title[np.compress(titled, slot)] += 1  # numpy's boolean indexing: 4x slower at 30-70% kept
        idf = word_idf(group, gen)
        matched_idf[slot] += idf
        total_idf += idf
    return WordScores(ids, scores, title_scores, matched, in_title, matched_idf, total_idf, len(groups))


def sparse_alternative(alt: Alternative, gen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(documents holding ``alt`` in a scored field, its weighted score over the fields, its weighted title BM25).

    The score is ``field_scores``' over the policy's fields, the title last; the title's own BM25
    is kept apart, as the title bonus reads it.
    """
    ids, scores, title = field_scores(alt, _scored_fields(gen), gen)
    return (ids, *_weighted(alt, scores, title))


def field_scores(alt: Alternative, fields: dict[str, float], gen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(documents holding ``alt``'s term in one of ``fields``, its unweighted score there, its title BM25).

    The policy's ``saturation``: BM25F ("document": each field's normalised frequency x the
    field's boost, summed, then saturated once with the term's idf), or each field's BM25 x its
    boost, summed ("field"); the fields add up in the order given. The title's own BM25 (zero
    where the title does not hold it, or when ``fields`` has no title) is what the title bonus
    reads. A query tree's terms score here too, over the fields the query names them in.
    """
    parts = _field_parts(alt, fields, gen)
    ids = _union([field_ids for _, _, field_ids, _ in parts], gen.doc_count)
    return (ids, *_summed(alt, parts, len(ids), _Slots(ids, gen.doc_count).of, gen))


def _scored_fields(gen) -> dict[str, float]:
    """The policy's boosted fields, the title last (and always: the title bonus reads its BM25)."""
    boosts = gen.policy.boosts
    return {f: b for f, b in boosts.items() if f != "title" and b} | {"title": boosts["title"]}


def _field_parts(alt: Alternative, fields: dict[str, float], gen) -> list[tuple[str, float, np.ndarray, np.ndarray]]:
    """(field, boost, documents, values) per field: normalised frequencies for BM25F, else the field's BM25."""
    document = gen.policy.saturation == "document"
    read = gen.scoring.term_frequency if document else lambda field, _term: alternative_bm25(alt, field, gen)
    return [(field, boost, *read(field, alt.term)) for field, boost in fields.items()]


def _summed(alt: Alternative, parts: list, size: int, place, gen) -> tuple[np.ndarray, np.ndarray]:
    """(score, title BM25) over ``size`` slots, each field's postings placed by ``place``, in ``parts``' order.

    BM25F saturates the summed, boosted frequencies once; the title's own BM25 is its normalised
    frequency saturated alone (the same formula as the policy's per-field BM25).
    """
    policy = gen.policy
    document = policy.saturation == "document"
    idf = alternative_idf(alt, gen) if document else 0.0
    scores, title = np.zeros(size), np.zeros(size)
    for field, boost, field_ids, values in parts:
        if len(field_ids):
            slot = place(field_ids)
            scores[slot] += boost * values
            if field == "title":
                title[slot] += policy.saturate(idf, values) if document else values
    return (policy.saturate(idf, scores) if document else scores), title


def _weighted(alt: Alternative, scores: np.ndarray, title: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A form's scores x its weight (completions and corrections weigh less than the typed word)."""
    if alt.weight != 1.0:
        scores *= alt.weight
        title *= alt.weight
    return scores, title


def _kept_sparse_group(group: list[Alternative], gen, postings: int) -> tuple[np.ndarray, ...]:
    """``_sparse_group``, kept per generation (read-only) for a word held by many documents."""
    if postings * REMEMBER_SPARSE_FROM >= gen.doc_count:
        key = ("sparse group", *((alt.term, alt.weight, alt.idf_term) for alt in group))
        return gen.scoring.remembered(key, lambda: _sparse_group(group, gen))
    return _sparse_group(group, gen)


def _sparse_group(group: list[Alternative], gen) -> tuple[np.ndarray, ...]:
    """(documents holding a form, the best form's scores and title scores, which hold one in the title)."""
    first = sparse_alternative(group[0], gen)
    # completions and corrections are scored over their own postings only
    others = [sparse_alternative(alt, gen) for alt in group[1:]]
    if not others:
        return *first, first[2] > 0
    ids = _union([first[0], *(alt_ids for alt_ids, _, _ in others)], gen.doc_count)
    slots, m = _Slots(ids, gen.doc_count), len(ids)
    scores, title, titled = np.zeros(m), np.zeros(m), np.zeros(m, dtype=bool)
    slot = slots.of(first[0])
    scores[slot], title[slot], titled[slot] = first[1], first[2], first[2] > 0
    for alt_ids, alt_scores, alt_title in others:
        slot = slots.of(alt_ids)
        better = alt_scores > scores[slot]
        replaced = np.compress(better, slot)
        scores[replaced] = np.compress(better, alt_scores)
        title[replaced] = np.compress(better, alt_title)
        titled[np.compress(alt_title > 0, slot)] = True
    return ids, scores, title, titled


def _postings_held(group: list[Alternative], gen) -> int:
    """How many postings a word's alternatives hold over the scored fields (documents counted per field)."""
    fields = [f for f, b in gen.policy.boosts.items() if b or f == "title"]
    return sum(len(gen.scoring.postings(f, alt.term)[0]) for alt in group for f in fields)


def _union(parts: list[np.ndarray], n: int) -> np.ndarray:
    """The distinct document numbers (ascending) of several ascending arrays of them, out of ``n``."""
    parts = [p for p in parts if len(p)]
    total = sum(len(p) for p in parts)
    if len(parts) <= 1:
        return parts[0].astype(np.int64) if parts else np.zeros(0, np.int64)
    if total * 16 < n:  # few: sort them (np.unique's hashing is far slower here)
        docs = np.sort(np.concatenate(parts)).astype(np.int64)
        distinct = np.empty(len(docs), dtype=bool)
        distinct[0] = True
        np.not_equal(docs[1:], docs[:-1], out=distinct[1:])
        return docs[distinct]
    mark = np.zeros(n, dtype=bool)  # many: mark them among all documents
    for part in parts:
        mark[part] = True
    return np.flatnonzero(mark)


class _Slots:
    """Where document numbers sit in ``ids`` (ascending, distinct): a binary search, or a table for many."""

    def __init__(self, ids: np.ndarray, n: int) -> None:
        self.ids, self.n = ids, n
        self._table: np.ndarray | None = None

    def of(self, docs: np.ndarray) -> np.ndarray:
        """The positions in ``ids`` of ``docs`` (ascending, all of them in ``ids``)."""
        if len(self.ids) == self.n:  # every document: its number is its place
            return docs
        if len(docs) == len(self.ids):  # all of them
            return np.arange(len(docs))
        if len(docs) * 16 < len(self.ids):
            return np.searchsorted(self.ids, docs)
        if self._table is None:
            self._table = np.empty(self.n, dtype=np.int64)
            self._table[self.ids] = np.arange(len(self.ids))
        return self._table[docs]


def alternative_bm25(alt: Alternative, field: str, gen) -> tuple[np.ndarray, np.ndarray]:
    """(live documents holding ``alt``'s term in ``field``, its unboosted BM25 there, unweighted).

    A form scored with another term's idf (``alt.idf_term``: a word written together or apart
    weighs what the typed word weighs) scales the term's kept BM25 by the ratio of the two idfs.
    """
    ids, bm25 = gen.scoring.term_bm25(field, alt.term)
    if alt.idf_term and alt.idf_term != alt.term and len(ids):
        bm25 = bm25 * (gen.scoring.idf(field, alt.idf_term) / gen.scoring.idf(field, alt.term))
    return ids, bm25


def alternative_idf(alt: Alternative, gen) -> float:
    """The idf BM25F weighs ``alt`` by: its own, or the typed word's it stands for (``alt.idf_term``).

    One per term across the fields (the policy's ``idf_fields`` "max"): any scored field's is the same.
    """
    field = next(f for f, boost in gen.policy.boosts.items() if boost)
    return gen.scoring.idf(field, alt.idf_term or alt.term)


def word_idf(group: list[Alternative], gen) -> float:
    """A word's weight in coordination: its (or its best-known form's) idf x the policy's commonness weight."""
    idf = gen.scoring.idf("excerpt", group[0].term)
    held = gen.scoring.doc_frequency("excerpt", group[0].term)
    spellings = [a.term for a in group if a.kind == "spelling" and gen.scoring.doc_frequency("excerpt", a.term)]
    if spellings and held > 0:
        # one word in two spellings ("organisations", "organizations"): it weighs what its commonest weighs
        idf = min(idf, *(gen.scoring.idf("excerpt", term) for term in spellings))
    elif len(group) > 1 and held <= 0:
        known = [gen.scoring.idf("excerpt", a.term) for a in group[1:] if gen.scoring.doc_frequency("excerpt", a.term)]
        # "rarest": the rarest form's idf; "commonest": the form most items hold, the likeliest meant
        idf = (max if gen.policy.form_idf == "rarest" else min)(known, default=idf)
    return idf * gen.policy.word_weight(group[0].word)
