"""The Whoosh schema: what is searched, what is filtered and counted, what is shown."""

from __future__ import annotations

from whoosh.analysis import RegexTokenizer
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from .analysis import news_analyzer, title_signature, vocabulary_analyzer

# Multi-valued facet values are joined with this separator at index time, so values may
# contain commas and spaces ("Microsoft AI", "Health, Science") without being split.
VALUE_SEPARATOR = "\x1f"

# Fields users may filter on and get counts for; each maps a document to exact values.
FACET_FIELDS = ("topics", "provider", "year", "month", "kind")
TEXT_FIELDS = ("title", "excerpt", "provider_text")


def _multi_value_field() -> KEYWORD:
    field = KEYWORD(stored=True)
    field.analyzer = RegexTokenizer(r"[^\x1f]+")
    return field


def _date_field() -> DATETIME:
    # one term per date instead of Whoosh's 8-level trie: ranges run in numpy over the
    # per-generation `published` array, and the trie terms were an eighth of all postings
    field = DATETIME(stored=True, sortable=True)
    field.shift_step = 0
    return field


def build_schema() -> Schema:
    """The index schema; changing it requires a full rebuild (``search-cli index --full``)."""
    analyzer = news_analyzer()
    return Schema(
        key=ID(stored=True, unique=True),
        url=STORED(),
        title=TEXT(analyzer=analyzer, stored=True),
        excerpt=TEXT(analyzer=analyzer, stored=True),
        # the whole analyzed title as one term: an exact-title query is the surest known-item signal
        title_exact=ID(stored=False),
        vocabulary=TEXT(analyzer=vocabulary_analyzer(), stored=False, phrase=False),
        provider=ID(stored=True),
        provider_text=TEXT(analyzer=analyzer, stored=False),
        provider_domain=STORED(),
        topics=_multi_value_field(),
        kind=ID(stored=True),
        year=ID(stored=True),
        month=ID(stored=True),
        published=_date_field(),
        quality=NUMERIC(int, bits=32, signed=True, stored=True, sortable=True, shift_step=0),
        heat=NUMERIC(int, bits=32, signed=True, stored=True, shift_step=0),
        # columns only: read as arrays per generation, never searched
        tiebreak=COLUMN(NumericColumn("I")),
        image=STORED(),
        sources=STORED(),
        parents=STORED(),
        # the lead article's key: filterable (story:URL) and shown; the hash groups stories in numpy
        story=ID(stored=True),
        story_hash=COLUMN(NumericColumn("Q")),
    )


def analyzed_texts(title: str, excerpt: str, provider: str) -> dict[str, str]:
    """The text each analyzed field receives for a document: the one place this is decided.

    The index writer uses it, and so do the live statistics, which re-analyze deleted documents.
    """
    return {
        "title": title,
        "excerpt": excerpt,
        "provider_text": provider,
        "vocabulary": f"{title} {excerpt}",
        "title_exact": title_signature(title),
    }
