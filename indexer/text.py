"""Text cleaning and URL identity: the normal forms every other module relies on."""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

# Publishers mix typographic and ASCII punctuation; searching must not care which.
_QUOTE_MAP = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark / apostrophe
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u0060": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u00a0": " ",
    }
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Decode HTML entities (twice, for double-encoded feeds), unify quotes, squeeze spaces.

    Accents are kept here so results display as published; the analyzer folds them.
    """
    text = html.unescape(html.unescape(value))
    text = unicodedata.normalize("NFC", text).translate(_QUOTE_MAP)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def fold_accents(text: str) -> str:
    """'Le Lézard' -> 'Le Lezard' (used for facet values and suggestions)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def canonical_url(url: str) -> str:
    """The identity of a document: scheme, ``www.``, host case and trailing slash ignored.

    >>> canonical_url("HTTPS://www.Example.com/a/b/?x=1#frag")
    'example.com/a/b?x=1'
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    key = host + path
    if parts.query:
        key += "?" + parts.query
    return key
