"""A page of hits: rank the matches, group them by story, and shape each hit for the answer.

Highlights are kept as segments (text, marked) in the hit; the page renders them as HTML, the
command line as text, and the JSON answer as escaped HTML with ``<mark>`` (``public_answer``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from whoosh.util.times import long_to_datetime

from . import highlight, semantic
from .evaluate import Plan
from .explain import explain
from .facets import fold
from .generation import Generation
from .request import SearchRequest

MORE_SHOWN = 5  # other items of a story listed under its best hit


def page_of_hits(
    plan: Plan,
    request: SearchRequest,
    gen: Generation,
    final: np.ndarray,
    docs: np.ndarray | None = None,
    meaning: semantic.Meaning | None = None,
) -> tuple[list[dict], int]:
    """The page of hits, and how many stories the matches belong to.

    Grouped (the default), a page lists the best item of each story, with the story's
    other matching items counted in ``more`` and the first few of them in ``more_items``. Every
    hit names its story (the key of the story's earliest item) and, when the story holds other
    items, its size, its number of sources and its date span (``story_items``, ``story_sources``,
    ``story_first``, ``story_last``), whether or not they match. ``docs``: ``np.flatnonzero(final)``
    when the caller has it. ``meaning``: the query's vector and its weight, for the semantic rule (``search.semantic``).
    """
    docs = np.flatnonzero(final) if docs is None else docs
    story = gen.story[docs]
    per_story = np.bincount(story) if len(docs) else np.zeros(0, dtype=np.int64)  # matches per story
    stories = int(np.count_nonzero(per_story))
    wanted = request.offset + request.limit
    best = rescored = None
    if request.sort == "relevance":
        ranked = plan.scores[docs] * gen.prior[docs]
        # browsing ranks by quality alone; without a story boost the best score of each story
        # (np.maximum.at: ~1 ms at 60k matches) would add 0.0 to every score: only explain shows it
        if len(docs) and plan.terms and (gen.policy.story_boost or request.explain):
            best = np.zeros(int(story.max()) + 1)
            np.maximum.at(best, story, ranked)
            ranked = ranked + gen.policy.story_boost * best[story]
        key = -ranked
        if plan.partial is not None and len(docs):
            # every partial match after every full one, whatever the story boost gave it
            # (the same floats as np.where over every match, which cost ~0.7 ms at 70k matches)
            lifted = np.flatnonzero(plan.partial[docs])
            key[lifted] = key[lifted] + ranked.max() + 1.0
        if meaning is not None and len(docs):
            rescored = semantic.rescore(gen, meaning, docs, ranked, key)
            key = _tiers(ranked, rescored.window, plan.partial[docs] if plan.partial is not None else None)
        keys: tuple[np.ndarray, ...] = (gen.tiebreak[docs], key)
    elif request.sort == "newest":
        ranked = None
        keys = (gen.tiebreak[docs], -gen.published[docs])
    else:
        ranked = None
        keys = (gen.tiebreak[docs], -gen.published[docs], -gen.quality[docs])  # none (-1) last
    order = _leading(keys, story if request.group else None, wanted)
    page = order[request.offset : wanted]
    if len(page) == 0:
        return [], stories
    members: list[np.ndarray] = []
    if request.group:
        for position in page:
            if per_story[story[position]] == 1:  # alone in its story: no scan of the matches
                members.append(np.zeros(0, dtype=np.int64))
                continue
            # the story's matching items, found from its own items (a slice) rather than by
            # comparing every match's story (~0.1 ms a hit at 70k matches); ``final`` holds live items only
            items = gen.story_items(int(story[position]))
            others = docs.searchsorted(np.compress(final[items], items))
            others = others[others != position]
            members.append(others[np.lexsort(tuple(k[others] for k in keys))])
    stored = [gen.stored(int(docs[p])) for p in page]
    more_stored = [[gen.stored(int(docs[p])) for p in m[:MORE_SHOWN]] for m in members]
    hits = [
        _hit(fields, float(ranked[p]) if ranked is not None else None, set(plan.terms))
        for p, fields in zip(page, stored, strict=True)
    ]
    if plan.partial is not None:
        for hit, p in zip(hits, page, strict=True):
            hit["partial"] = bool(plan.partial[docs[p]])
    for hit, words in zip(hits, _missing(plan, gen, docs[page], request), strict=True):
        if words:
            hit["missing"] = words
    if request.explain and ranked is not None:
        closeness = _closeness(rescored) if rescored is not None else {}
        for hit, p in zip(hits, page, strict=True):
            in_story = float(best[story[p]]) if best is not None else None
            weight = rescored.weight if rescored is not None else None
            hit["explain"] = explain(plan, gen, int(docs[p]), in_story, closeness.get(int(p)), weight)
    for hit, others, shown in zip(hits, members, more_stored, strict=False):
        hit["more"] = len(others)
        hit["more_items"] = [member(fields) for fields in shown]
    for hit, p in zip(hits, page, strict=True):
        hit.update(story_card(gen, int(docs[p]), hit["key"]))
    return hits, stories


def _missing(plan: Plan, gen: Generation, docs: np.ndarray, request: SearchRequest) -> list[list[str]]:
    """For each of ``docs``, the typed words it holds in none of their forms ("Missing: portland").

    A query of 3 words or more may match an item holding only some of them, and one of 5 or more any
    of them: without this, the page gave no sign that a result lacked the rarest word of a query.
    """
    groups = [g for g in plan.scored if isinstance(g, list) and g[0].kind != "feedback"]
    out: list[list[str]] = [[] for _ in docs]
    if len(groups) < 2 or not len(docs) or not request.q.strip():  # no typed words: a similar page's terms
        return out
    # a word still being typed ("b", "reu", a stop word on its way to a longer one) is not a word yet
    groups = [g for g in groups if g[0].kind == "exact" and not any(a.kind == "prefix" for a in g)]
    fields = [field for field, boost in gen.policy.boosts.items() if boost]
    # ... nor a last word that may still be growing: one of 1-2 letters, which the engine reads whole
    # ("AI") but may begin the next ("facial recognition b"), or a short one no item holds ("reu" of
    # reuters). From the length typos are corrected at, a word no item holds is named: "portland"
    last = fold(plan.parsed.words[-1]).lower() if request.last_word_open and plan.parsed.words else ""

    def growing(group: list) -> bool:
        if group[0].word != last:
            return False
        held = any(gen.scoring.doc_frequency(field, alt.term) for alt in group for field in fields)
        return len(last) <= gen.policy.whole_word_until or (not held and len(last) < gen.policy.typo_min_letters)

    groups = [g for g in groups if not growing(g)]
    for group in groups:
        held = np.zeros(len(docs), dtype=bool)
        for alt in group:
            for field in fields:
                ids, _tf = gen.scoring.postings(field, alt.term)
                if len(ids):
                    held |= ids[np.minimum(np.searchsorted(ids, docs), len(ids) - 1)] == docs
        for k in np.flatnonzero(~held).tolist():
            out[k].append(plan.corrections.get(group[0].word, group[0].word))  # "amazn": amazon, as the page reads
    return out


def _tiers(ranked: np.ndarray, window: np.ndarray, partial: np.ndarray | None) -> np.ndarray:
    """Sort keys (lower first): the rescored window before the rest, full matches before partial ones in each."""
    tier = np.full(len(ranked), 2.0)
    tier[window] = 0.0
    if partial is not None:
        tier += partial
    return -ranked + tier * (float(ranked.max() - ranked.min()) + 1.0)


def _closeness(rescored: semantic.Rescored) -> dict[int, tuple[float, float]]:
    """Match position -> (similarity, scale) of each item the semantic rule re-ordered."""
    return {
        int(p): (float(s), rescored.scale)
        for p, s in zip(rescored.window.tolist(), rescored.similarity.tolist(), strict=True)
    }


def story_card(gen: Generation, doc: int, key: str) -> dict:
    """What a card says of an item's whole story: its id, items, sources and date span."""
    leader = int(gen.story[doc])
    card = {"story": key if leader == doc else gen.stored(leader).get("key", key), "story_items": 1}
    items = gen.story_items(leader)
    if leader == doc and len(items) == 1:  # alone: the common case
        return card
    sources = gen.facets["provider"]
    providers = np.asarray(sources.layers[0])[items]
    dates = np.asarray(gen.published)[items]
    dates = dates[dates >= 0]
    card["story_items"] = len(items)
    # a set, not np.unique: numpy's unique imports numpy.ma on first call (30 ms of a CLI query)
    card["story_sources"] = len(set(providers[providers < len(sources.values)].tolist()))
    if len(dates):
        first, last = (iso_utc(long_to_datetime(int(d))) for d in (dates.min(), dates.max()))
        card["story_first"], card["story_last"] = first, last
    return card


def member(stored: dict) -> dict:
    """The short form of a story's other item: enough to show and link it."""
    return {
        "url": stored.get("url", ""),
        "title": stored.get("title", ""),
        "provider": stored.get("provider", "") or stored.get("provider_domain", ""),
        "published": iso_utc(stored.get("published")),
        "kind": stored.get("kind", ""),
        "key": stored.get("key", ""),
    }


def _hit(stored: dict, score: float | None, terms: set[str]) -> dict:
    title, excerpt = stored.get("title", ""), stored.get("excerpt", "")
    return {
        "url": stored.get("url", ""),
        "title": title,
        "excerpt": excerpt,
        "provider": stored.get("provider", ""),
        "provider_domain": stored.get("provider_domain", ""),
        "published": iso_utc(stored.get("published")),
        "quality": stored.get("quality"),
        "heat": stored.get("heat") if stored.get("heat", -1) >= 0 else None,
        "kind": stored.get("kind", ""),
        "topics": stored.get("topics") or [],
        "image": stored.get("image") or None,
        "score": round(score, 6) if score is not None else None,
        "key": stored.get("key", ""),
        "parents": stored.get("parents") or [],
        "sources": stored.get("sources") or [],
        "story": stored.get("key", ""),  # its own until story_card names the story
        "story_items": 1,
        "more": 0,
        "more_items": [],
        "partial": False,
        "highlight": {
            "title": highlight.segments(title, terms),
            "excerpt": highlight.snippet(excerpt, terms),
        },
    }


def _leading(keys: tuple[np.ndarray, ...], story: np.ndarray | None, wanted: int) -> np.ndarray:
    """Positions in rank order (``np.lexsort`` keys, last is primary), enough for ``wanted`` results.

    With ``story``, only the first (best) position of each story is kept. Only a shortlist is
    sorted when it already holds ``wanted`` stories: ties with its last entry are kept, so the
    tie-break decides, not chance.
    """
    total = len(keys[0])
    shortlist = wanted * 4 if story is not None else wanted
    while True:
        if len(keys) == 2 and shortlist < total:
            primary = keys[-1]
            cut = np.partition(primary, shortlist - 1)[shortlist - 1]
            candidates = np.flatnonzero(primary <= cut)
        else:
            candidates = np.arange(total)
        order = candidates[np.lexsort(tuple(k[candidates] for k in keys))]
        if story is None:
            return order
        _, first = np.unique(story[order], return_index=True)
        leaders = order[np.sort(first)]
        if len(leaders) >= wanted or len(candidates) == total:
            return leaders
        shortlist *= 4


def iso_utc(value: object, timespec: str = "auto") -> str | None:
    """RFC 3339 text of a datetime in UTC ('2020-06-11T17:56:00Z'); naive values are UTC. None if not a datetime."""
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")
