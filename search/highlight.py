"""Marking matched words in stored text: segments, rendered as escaped HTML (page, JSON) or text (terminal)."""

from __future__ import annotations

import html
import itertools

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
    out: Segments = []
    last = 0  # the first piece not yet in ``out``
    for i in _matched(parts[1::2], terms):
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
    # where the first match starts (0: none); the window is then segmented on its own
    parts = pieces(text)
    first = next(iter(_matched(parts[1::2], terms)), None)
    return window(text, len("".join(parts[: 2 * first + 1])) if first is not None else 0, terms, width)


def _matched(words: list[str], terms: set[str]) -> list[int]:
    """The places of the words whose index term is in ``terms`` (a page's words: mostly seen before)."""
    found = list(map(_TERMS.get, words))  # looked up in C; a word never seen is analyzed once
    if None in found or "" in found:
        found = [term or term_of(word) for term, word in zip(found, words, strict=True)]
    return list(itertools.compress(range(len(words)), map(terms.__contains__, found)))


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
