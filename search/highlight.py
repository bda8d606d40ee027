"""Marking matched words in stored text: segments, rendered as escaped HTML (page, JSON) or text (terminal)."""

from __future__ import annotations

import html
import itertools
from bisect import bisect_right

from markupsafe import Markup

from indexer.analysis import news_analyzer, pieces

Segments = list[tuple[str, bool]]
SNIPPET_CHARS = 320

_analyzer = news_analyzer()
_TERMS: dict[str, str] = {}  # word as written -> its index term (or the word folded, for a stop word)
_MAX_TERMS = 200_000


def term_of(word: str) -> str:
    """What the analyzer makes of one word (stop words kept, unstemmed), remembered.

    Every filter of the analyzer works on one token at a time, so a word's term does not depend
    on its neighbours: looking it up is what running the analyzer over the whole text did, without
    its generator chain per word (a third of an uncached request's time at 100k documents).
    """
    term = _TERMS.get(word)
    if term is None:
        term = next(iter(_analyzer(word, tokenize=False, removestops=False))).text
        if len(_TERMS) < _MAX_TERMS:
            _TERMS[word] = term
    return term


def segments(text: str, terms: set[str]) -> Segments:
    """Split ``text`` into (piece, matched) runs; a piece matches when its index term is queried."""
    if not text:
        return []
    if not terms:
        return [(text, False)]
    parts = pieces(text)
    return _runs(parts, _matched(parts[1::2], terms))


def _runs(parts: list[str], matched: list[int]) -> Segments:
    """The (piece, matched) runs of ``pieces`` output whose words at the places ``matched`` are marked."""
    out: Segments = []
    last = 0  # the first piece not yet in ``out``
    for i in matched:
        word = 2 * i + 1
        if word > last and (before := "".join(parts[last:word])):
            out.append((before, False))
        out.append((parts[word], True))
        last = word + 1
    if tail := "".join(parts[last:]):
        out.append((tail, False))
    return out


def snippet(text: str, terms: set[str], width: int = SNIPPET_CHARS) -> Segments:
    """The part of ``text`` around its first match, at most about ``width`` characters."""
    if len(text) <= width:
        return segments(text, terms)
    if not terms:
        return window(text, 0, terms, width)
    # where the first match starts (0: none); the window is then segmented on its own
    parts = pieces(text)
    matched = _matched(parts[1::2], terms)
    first = len("".join(parts[: 2 * matched[0] + 1])) if matched else 0
    start, end = _window_bounds(text, first, width)
    if (start and text[start - 1] != " ") or (end < len(text) and text[end] != " "):
        return window(text, first, terms, width)  # cut inside a word: its pieces differ from the text's
    # cut at spaces, which no word spans: the window's pieces and matches are the text's, sliced
    ends = list(itertools.accumulate(map(len, parts)))
    i, j = bisect_right(ends, start), min(bisect_right(ends, end), len(parts) - 1)  # pieces holding both cuts
    head = parts[i][start - (ends[i - 1] if i else 0) :] if i % 2 == 0 else ""
    cut = [head, *parts[i + 1 - i % 2 : j], parts[j][: end - (ends[j - 1] if j else 0)]] if j > i else [text[start:end]]
    runs = _runs(cut, [w - i // 2 for w in matched if i // 2 <= w < j // 2])  # the window's words from 0
    return _elided(runs, start, end, len(text))


def _matched(words: list[str], terms: set[str]) -> list[int]:
    """The places of the words whose index term is in ``terms`` (a page's words: mostly seen before)."""
    found = list(map(_TERMS.get, words))  # looked up in C; a word never seen is analyzed once
    if None in found or "" in found:
        found = [term or term_of(word) for term, word in zip(found, words, strict=True)]
    return list(itertools.compress(range(len(words)), map(terms.__contains__, found)))


def window(text: str, first: int, terms: set[str], width: int) -> Segments:
    """About ``width`` characters of ``text`` around offset ``first``, cut at spaces, marked and elided."""
    start, end = _window_bounds(text, first, width)
    return _elided(segments(text[start:end], terms), start, end, len(text))


def _window_bounds(text: str, first: int, width: int) -> tuple[int, int]:
    """Where ``window`` cuts ``text``: about ``width`` characters around ``first``, at spaces where it can."""
    start = max(0, min(first - width // 4, len(text) - width))
    if start:
        start = text.find(" ", start) + 1 or start
    end = start + width
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    return start, end


def _elided(parts: Segments, start: int, end: int, length: int) -> Segments:
    """``parts`` of the window ``start:end`` of a text of ``length`` characters, with "…" where it was cut."""
    if start:
        parts.insert(0, ("…", False))
    if end < length:
        parts.append(("…", False))
    return parts


def to_html(parts: Segments) -> Markup:
    """Escaped HTML with matches in ``<mark>``: safe as element content (not as an attribute)."""
    whole = "".join([p for p, _ in parts])
    if "&" in whole or "<" in whole or ">" in whole:
        return Markup("".join(f"<mark>{_escape(p)}</mark>" if m else _escape(p) for p, m in parts))
    # nothing to escape (most texts): the parts as they are, without an escape call per part
    return Markup("".join([f"<mark>{p}</mark>" if m else p for p, m in parts]))


def _escape(text: str) -> str:
    # &, < and > are all that element content needs; apostrophes stay readable in JSON
    return html.escape(text, quote=False)


def to_text(parts: Segments, start: str = "", end: str = "") -> str:
    """Plain text with matches wrapped in ``start``/``end`` (e.g. ANSI bold for a terminal)."""
    return "".join(f"{start}{p}{end}" if m else p for p, m in parts)
