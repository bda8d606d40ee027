"""The shortcuts of the request path give exactly what the slower code they replaced gave."""

from __future__ import annotations

import itertools

from indexer.analysis import analyze
from search import highlight
from search.request import build_request, toggle_filter, toggler


def analyzer_segments(text: str, terms: set[str]) -> highlight.Segments:
    """Highlights as they were computed before: the analyzer run over the whole text."""
    if not text:
        return []
    if not terms:
        return [(text, False)]
    out: highlight.Segments = []
    last = 0
    for token in highlight._analyzer(text, chars=True, removestops=False):
        if token.text in terms:
            if token.startchar > last:
                out.append((text[last : token.startchar], False))
            out.append((text[token.startchar : token.endchar], True))
            last = token.endchar
    if last < len(text):
        out.append((text[last:], False))
    return out


def test_highlights_by_remembered_word_terms_equal_the_analyzer_over_the_text(engine):
    documents = list(engine.stored_documents())
    texts = [d.get(part, "") for d in documents for part in ("title", "excerpt")]
    texts += ["Café's \u2018naïve\u2019 AI isn't the-best", "The THE the, of and", "über-cool São Paulo"]
    words = sorted({term for text in texts for term in analyze(text)})
    compared = 0
    for i, text in enumerate(texts):
        terms = set(words[i % len(words) :: 97]) | set(analyze(text)[:2]) | {"the", "of"}
        assert highlight.segments(text, terms) == analyzer_segments(text, terms), text
        compared += sum(matched for _, matched in highlight.segments(text, terms))
    assert compared > 100  # the texts did have matches to mark


def test_facet_toggle_urls_equal_toggle_filter():
    values = [("provider", "Reuters"), ("topics", "Health, Science"), ("topics", "AI & ML/ü"), ("year", "2020")]
    requests = [
        build_request("", filters=()),
        build_request("facial recognition"),
        build_request("police", filters=["provider=Reuters"], sort="newest", group=False, limit="20"),
        build_request("a+b & c", filters=["topics=ai & ml/Ü", "year=2020"], prefix=False, typos=False, page="3"),
    ]
    for request, (field, value) in itertools.product(requests, values):
        assert toggler(request)(field, value) == toggle_filter(request, field, value), (request, field, value)


def test_the_timeline_of_document_numbers_equals_the_timeline_of_their_mask():
    import numpy as np

    from search.timeline import DAY_US, EPOCH_US, Calendar

    rng = np.random.default_rng(7)
    published = EPOCH_US + rng.integers(0, 20_000, 5_000) * DAY_US
    published[rng.random(5_000) < 0.1] = -1  # undated items
    calendar = Calendar.of(published)
    for share in (0.0, 0.001, 0.02, 0.5, 1.0):
        mask = rng.random(5_000) < share
        assert calendar.histogram(np.flatnonzero(mask)) == calendar.histogram(mask), share


def analyzer_snippet(text: str, terms: set[str], width: int) -> highlight.Segments:
    """``highlight.snippet`` as it was: the first match found in the whole text's segments."""
    parts = analyzer_segments(text, terms)
    if len(text) <= width:
        return parts
    offset = first = 0
    for piece, matched in parts:
        if matched:
            first = offset
            break
        offset += len(piece)
    return highlight.window(text, first, terms, width)  # the first match found in the whole text's segments


def test_snippets_equal_the_whole_text_way(engine):
    texts = [d.get("excerpt", "") for d in engine.stored_documents()]
    compared = 0
    for i, text in enumerate(texts):
        terms = set(analyze(text)[i % 7 :: 5])
        for width in (40, 120, 320):
            assert highlight.snippet(text, terms, width) == analyzer_snippet(text, terms, width), (text, width)
            compared += len(text) > width
    assert compared > 50
