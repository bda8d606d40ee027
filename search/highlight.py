"""Marking matched words in stored text: segments, rendered as escaped HTML (page, JSON) or text (terminal)."""

from __future__ import annotations

import html

from markupsafe import Markup

from indexer.analysis import news_analyzer, spans

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
    out: Segments = []
    last = 0
    known = _TERMS.get  # most words were seen before: no call to term_of for them
    for start, end in spans(text):
        word = text[start:end]
        if (known(word) or term_of(word)) in terms:
            if start > last:
                out.append((text[last:start], False))
            out.append((word, True))
            last = end
    if last < len(text):
        out.append((text[last:], False))
    return out


def snippet(text: str, terms: set[str], width: int = SNIPPET_CHARS) -> Segments:
    """The part of ``text`` around its first match, at most about ``width`` characters."""
    if len(text) <= width:
        return segments(text, terms)
    # where the first match starts (0: none); the window is then segmented on its own
    first = next((start for start, end in spans(text) if term_of(text[start:end]) in terms), 0)
    return window(text, first, terms, width)


def window(text: str, first: int, terms: set[str], width: int) -> Segments:
    """About ``width`` characters of ``text`` around offset ``first``, cut at spaces, marked and elided."""
    start = max(0, min(first - width // 4, len(text) - width))
    if start:
        start = text.find(" ", start) + 1 or start
    end = start + width
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    parts = segments(text[start:end], terms)
    if start:
        parts.insert(0, ("…", False))
    if end < len(text):
        parts.append(("…", False))
    return parts


def to_html(parts: Segments) -> Markup:
    """Escaped HTML with matches in ``<mark>``: safe as element content (not as an attribute)."""
    return Markup("".join(f"<mark>{_escape(p)}</mark>" if m else _escape(p) for p, m in parts))


def _escape(text: str) -> str:
    # &, < and > are all that element content needs; apostrophes stay readable in JSON
    return html.escape(text, quote=False)


def to_text(parts: Segments, start: str = "", end: str = "") -> str:
    """Plain text with matches wrapped in ``start``/``end`` (e.g. ANSI bold for a terminal)."""
    return "".join(f"{start}{p}{end}" if m else p for p, m in parts)
