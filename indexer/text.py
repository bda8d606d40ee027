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
_QUOTES = re.compile("[" + re.escape("".join(map(chr, _QUOTE_MAP))) + "]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Characters nobody types into a search box: C0 controls but tab and newline, DEL, C1 controls,
# and the bidi embeddings, overrides and isolates that reorder the text around them.
# web.terminal escapes these (plus zero-width marks) for the terminal; queries drop them.
CONTROL_CHARS = (*(c for c in range(0x20) if c not in (0x09, 0x0A)), *range(0x7F, 0xA0))
BIDI_CONTROLS = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
# a lone surrogate is a byte of an argument that was not UTF-8 (Python's surrogateescape): it reads
# as the replacement character, as a browser's URL of such bytes does, and can be encoded again
SURROGATES = range(0xD800, 0xE000)
_QUERY_MAP = {
    **dict.fromkeys(CONTROL_CHARS, " "),
    **dict.fromkeys(BIDI_CONTROLS),
    **dict.fromkeys(SURROGATES, "\ufffd"),
}


def encodable(text: str) -> bool:
    r"""Whether ``text`` is Unicode text, with no lone surrogate.

    A lone surrogate is a byte of a file name or an argument that was not UTF-8, or JSON's "\ud800":
    no page, JSON answer or terminal can carry it.

    >>> encodable("café"), encodable("caf\udce9")
    (True, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(value: str) -> str:
    """Decode HTML entities (twice, for double-encoded feeds), unify quotes, squeeze spaces.

    Accents are kept here so results display as published; the analyzer folds them.
    """
    text = html.unescape(html.unescape(value))
    # each step only where it can change something (a full build cleans ~600k texts): ASCII text is
    # NFC already, str.translate looks every character up in a dict, and only a non-printable text
    # can hold a control character
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if _QUOTES.search(text):
        text = text.translate(_QUOTE_MAP)
    if not text.isprintable():
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())  # str.split's whitespace is re's \s: runs squeezed, ends stripped


def clean_query(text: str) -> str:
    r"""A query or filter value as typed, less the characters that would hide or reorder it.

    A control character separates words, as a space does; a bidi override is dropped.

    >>> clean_query("facial\x01recognition \u202epolice")
    'facial recognition police'
    >>> clean_query("caf\udce9")
    'caf\ufffd'
    """
    return text.translate(_QUERY_MAP)


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
