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

    from indexer.schema import DAY_US, EPOCH_US
    from search.timeline import Calendar

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


def days_first_interval(published, docs) -> str | None:
    """The timeline's interval as it was chosen: from the selected items' days, always read."""
    from indexer.schema import DAY_US, EPOCH_US
    from search.timeline import MONTHLY_UP_TO_MONTHS, WEEKLY_UP_TO_DAYS

    dated = published[docs][published[docs] >= 0]
    if not len(dated):
        return None
    days = (dated - EPOCH_US) // DAY_US
    if days.max() - days.min() <= WEEKLY_UP_TO_DAYS:
        return "week"
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(int)
    return "month" if months.max() - months.min() < MONTHLY_UP_TO_MONTHS else "year"


def test_the_timeline_chooses_as_the_days_first_way_does():
    import numpy as np

    from indexer.schema import DAY_US, EPOCH_US
    from search.timeline import Calendar

    rng = np.random.default_rng(16)
    for undated_share in (0.0, 0.2):  # every item dated: document numbers are not checked for a date
        chosen = set()
        for _ in range(400):
            start = int(rng.integers(0, 20_000))
            span = int(rng.integers(100, 200))  # spans around the weekly limit (120 days), across 4-7 months
            published = EPOCH_US + (start + rng.integers(0, span + 1, 300)) * DAY_US
            published[[0, 1]] = EPOCH_US + np.array([start, start + span]) * DAY_US
            published[rng.random(300) < undated_share] = -1
            calendar = Calendar.of(published)
            assert calendar.all_dated == (undated_share == 0.0)
            docs = np.flatnonzero(rng.random(300) < 0.9)
            histogram = calendar.histogram(docs)
            assert histogram["interval"] == days_first_interval(published, docs)
            assert histogram == calendar.histogram(np.isin(np.arange(300), docs))  # the mask's way
            assert sum(b["count"] for b in histogram["buckets"]) + histogram["undated"] == len(docs)
            chosen.add(histogram["interval"])
        assert chosen == {"week", "month"}


def test_text_cut_around_its_words_equals_the_tokenizer_spans(engine, monkeypatch):
    from indexer import analysis

    texts = [d.get(part, "") for d in engine.stored_documents() for part in ("title", "excerpt")]
    texts += ["Café's \u2018naïve\u2019 AI isn't the-best", "x\u00b2 e\u0301t\u00e9 a\u200db", "", "  ", "--a--"]
    tokenizers = {"regex": analysis._span_tokenize}
    from nltk.tokenize import RegexpTokenizer

    tokenizers["nltk"] = RegexpTokenizer(analysis.WORD_PATTERN).span_tokenize  # a full build's (use_nltk)
    for name, tokenize in tokenizers.items():
        monkeypatch.setattr(analysis, "_span_tokenize", tokenize)
        for text in texts:
            parts = analysis.pieces(text)
            assert "".join(parts) == text, (name, text)
            assert parts[1::2] == [text[s:e] for s, e in tokenize(text)], (name, text)
    assert any(not t.isascii() for t in texts) and any(t.isascii() for t in texts)  # both engines of the regex way


def test_facet_rows_come_in_the_order_python_sorts_their_values(all_engine):
    # most items first, ties by the value's casefold (the stable sort's order among equal casefolds);
    # years and months newest first: what sorting the values with a Python key per value gave
    import numpy as np

    from indexer.schema import FACETS

    rng = np.random.default_rng(16)
    toggle = toggler(build_request("police"))
    gen = all_engine.generation()
    for field, table in gen.facets.items():
        facet = FACETS[field]
        for ceiling in (1, 3, 1000):  # many ties, some, few
            counts = rng.integers(0, ceiling + 1, len(table.values))
            number = counts.tolist()
            nonzero = [i for i in range(len(number)) if number[i]]
            if facet.by_value:
                order = sorted(nonzero, key=table.values.__getitem__, reverse=True)
            else:
                order = sorted(nonzero, key=lambda i: (-number[i], table.values[i].casefold()))
            rows, truncated = table.summarize(counts, [], toggle)
            expected = [(table.values[i], number[i]) for i in order[: facet.size]]
            assert [(r["value"], r["count"]) for r in rows] == expected
            assert truncated == (len(order) > facet.size)


def test_marked_html_equals_escaping_each_part():
    import html

    samples = [
        [("Police ", False), ("use", True), (" of facial recognition", False)],
        [("AT&T", True), (" <b>bold</b> ", False), ("x > y", True)],
        [("plain", False)],
        [("x < y", False)],
        [("a > b", True)],
        [("R", False), ("&", True), ("D", False)],
        [("…", False), ("café", True), (" naïve \u2018quoted\u2019 'single' \"double\"", False), ("…", False)],
        [],
    ]
    for parts in samples:
        expected = "".join(f"<mark>{html.escape(p, False)}</mark>" if m else html.escape(p, False) for p, m in parts)
        assert str(highlight.to_html(parts)) == expected, parts


def test_a_storys_other_items_are_its_other_matches_in_rank_order(all_engine):
    # grouped hits list the other matching items of their story; the ungrouped ranking of every
    # match is the reference (found there by story key, not from the story arrays)
    from tests.conftest import search

    checked = 0
    for q in ("police", "facial recognition", "ai", "power apps", "data", "privacy", "court ruling"):
        everything = search(all_engine, q, group=False, limit=100)
        if everything["total"] > 100:
            continue
        by_story: dict[str, list[str]] = {}
        for hit in everything["hits"]:
            by_story.setdefault(hit["story"], []).append(hit["key"])
        for hit in search(all_engine, q, limit=100)["hits"]:
            others = [key for key in by_story[hit["story"]] if key != hit["key"]]
            assert hit["more"] == len(others), (q, hit["key"])
            assert [m["key"] for m in hit["more_items"]] == others[:5], (q, hit["key"])
            checked += len(others) > 0
    assert checked >= 3, "some hits had other items in their story"


def test_a_snippet_cut_at_spaces_is_the_window_segmented_on_its_own():
    # the snippet slices the whole text's pieces where the window is cut at spaces; segmenting the
    # window's text again (``highlight.window``) is the reference, on texts made to cut anywhere
    import random

    rng = random.Random(16)
    vocabulary = ["police", "Police's", "use", "naïve", "café", "don\u2019t", "AI", "x", "42", "São", "über-cool"]
    vocabulary += ["&", "<b>", "...", "—", "  ", "\t", "facial", "recognition", "l'état", "O'Brien"]
    compared = 0
    for n in range(400):
        text = "".join(
            rng.choice(vocabulary) + rng.choice([" ", " ", "  ", ", ", "-", ""]) for _ in range(rng.randint(5, 60))
        )
        terms = set(analyze(" ".join(rng.sample(vocabulary, 3)))) if n % 5 else set()
        for width in (8, 25, 60):
            matched = highlight._matched(highlight.pieces(text)[1::2], terms)
            first = len("".join(highlight.pieces(text)[: 2 * matched[0] + 1])) if matched else 0
            expected = (
                highlight.window(text, first, terms, width) if len(text) > width else highlight.segments(text, terms)
            )
            assert highlight.snippet(text, terms, width) == expected, (text, terms, width)
            compared += len(text) > width
    assert compared > 800
