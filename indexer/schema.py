"""The field table: every field of the index described once, and everything derived from it.

Each ``Field`` says where its value comes from (the seed key and the document projection), how
it is stored and analyzed (its Whoosh field type), and, for facets, how people see it (label,
how many values a facet shows, value labels, aliases, ordering). The Whoosh schema, the
document projection (``document_fields``), facet and filter names and aliases, the page's
labels, OpenAPI and the OpenSearch export all read this table, and ``SCHEMA_VERSION`` is a hash
of it (``schema_version``): changing how a field is derived forces a rebuild by itself.

To add a facet: add a ``Field`` with a ``Facet`` here (and the value to ``Item`` in records.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, SimpleNamespace
from typing import Any

from whoosh.analysis import RegexTokenizer
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, FieldType, Schema
from whoosh.util.times import datetime_to_long

from .analysis import news_analyzer, title_signature, vocabulary_analyzer

# the published field holds Whoosh's longs (microseconds since year 1); the timeline and the derived
# calendar count days from 1970 with these
EPOCH_US = datetime_to_long(dt.datetime(1970, 1, 1))  # Whoosh's long for 1970-01-01
DAY_US = 86_400 * 1_000_000

# Multi-valued facet values are joined with this separator at index time, so values may
# contain commas and spaces ("Microsoft AI", "Health, Science") without being split.
VALUE_SEPARATOR = "\x1f"
DERIVATION_VERSION = 4  # bump when document_fields or the analyzers change in a way the table cannot show


@dataclass(frozen=True)
class Facet:
    """How a facet field is counted and shown."""

    label: str  # the facet's heading ("Source")
    size: int  # values a facet shows before "show more" / ``truncated``
    aliases: tuple[str, ...] = ()  # other names accepted in filters and query syntax (source:, publisher:)
    by_value: bool = False  # newest first (years, months) instead of most items first
    value_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def label_of(self, value: str) -> str:
        """How a value reads on the page ("article" -> "Articles")."""
        return self.value_labels.get(value, value)


@dataclass(frozen=True)
class Field:
    """One field of the index."""

    name: str
    kind: Callable[[], FieldType]  # the Whoosh field type: how it is stored and analyzed
    value: Callable[[Any], Any]  # the document projection: a Document -> this field's value ("" or None: absent)
    seed: str = ""  # where it comes from in a seed record (documentation; records.py reads it)
    facet: Facet | None = None
    text: bool = False  # a scored text field (BM25F; boosts in search.ranking)
    aliases: tuple[str, ...] = ()  # other names for it in query syntax (date: for published:)

    def fingerprint(self) -> str:
        """What decides this field's index content: its type and the code deriving its value."""
        kind = self.kind()
        analyzer = getattr(kind, "analyzer", None)
        steps = [type(step).__name__ for step in getattr(analyzer, "items", [analyzer])]  # reprs hold addresses
        return f"{self.name}|{type(kind).__name__}|{kind.stored}|{steps}|{inspect.getsource(self.value).strip()}"


def _multi_value_field(stored: bool = True) -> KEYWORD:
    keyword = KEYWORD(stored=stored)
    keyword.analyzer = RegexTokenizer(r"[^\x1f]+")
    return keyword


def _date_field() -> DATETIME:
    # one term per date instead of Whoosh's 8-level trie: ranges run in numpy over the
    # per-generation `published` array, and the trie terms were an eighth of all postings
    date = DATETIME(stored=True, sortable=True)
    date.shift_step = 0
    return date


def _number() -> NUMERIC:
    return NUMERIC(int, bits=32, signed=True, stored=True, sortable=True, shift_step=0)


def _text() -> TEXT:
    return TEXT(analyzer=news_analyzer(), stored=True)


def _missing(value: int | None) -> int:
    return value if value is not None else -1  # sortable columns need a number; -1 reads as missing


FIELDS: tuple[Field, ...] = (
    Field("key", lambda: ID(stored=True, unique=True), lambda d: d.key, "webUrl (else originalUrl), canonical"),
    Field("url", STORED, lambda d: d.url, "webUrl"),
    Field("title", _text, lambda d: d.title, "title", text=True),
    Field("excerpt", _text, lambda d: d.excerpt, "excerpt", text=True),
    # the whole analyzed title as one term: an exact-title query is the surest known-item signal
    Field("title_exact", lambda: ID(stored=False), lambda d: title_signature(d.title), "title"),
    # unstemmed words: did-you-mean, typo tolerance and completions read them
    Field(
        "vocabulary",
        lambda: TEXT(analyzer=vocabulary_analyzer(), stored=False, phrase=False),
        lambda d: f"{d.title} {d.excerpt}",
        "title, excerpt",
    ),
    Field(
        "provider",
        lambda: ID(stored=True),
        lambda d: d.provider,
        "provider.name",
        facet=Facet("Source", 20, aliases=("source", "publisher")),
    ),
    Field("provider_text", lambda: TEXT(analyzer=news_analyzer(), stored=False), lambda d: d.provider, text=True),
    Field("provider_domain", STORED, lambda d: d.provider_domain, "provider.domain, else the URL's host"),
    Field(
        "topics",
        _multi_value_field,
        lambda d: VALUE_SEPARATOR.join(d.topics),
        "topics (a related item inherits its articles')",
        facet=Facet("Topics", 20, aliases=("topic", "tag")),
    ),
    Field(
        "year",
        lambda: ID(stored=True),
        lambda d: str(d.published.year) if d.published else "",
        "publishedDateTime",
        facet=Facet("Year", 30, by_value=True),
    ),
    Field(
        "month",
        lambda: ID(stored=True),
        lambda d: d.published.strftime("%Y-%m") if d.published else "",
        "publishedDateTime",
        facet=Facet("Month", 24, by_value=True),
    ),
    Field(
        "kind",
        lambda: ID(stored=True),
        lambda d: d.kind,
        "article: the file's own item; related: an entry of its related: list",
        facet=Facet("Kind", 2, value_labels=MappingProxyType({"article": "Articles", "related": "Related coverage"})),
    ),
    Field("published", _date_field, lambda d: d.published, "publishedDateTime (UTC)", aliases=("date",)),
    Field("quality", _number, lambda d: _missing(d.quality), "quality"),
    Field("heat", lambda: NUMERIC(int, bits=32, signed=True, stored=True, shift_step=0), lambda d: _missing(d.heat)),
    # columns only: read as arrays per generation, never searched
    Field("tiebreak", lambda: COLUMN(NumericColumn("I")), lambda d: tiebreak(d.key), "the canonical URL"),
    Field("image", STORED, lambda d: d.image, "images[0].url"),
    Field("sources", STORED, lambda d: list(d.sources), "the seed files that mention the URL"),
    Field("parents", STORED, lambda d: list(d.parents), "the articles whose related: lists name it"),
    # searchable too: an article's similar page shows its publisher's related: list ("Related coverage")
    Field(
        "listed_by",
        lambda: _multi_value_field(stored=False),
        lambda d: VALUE_SEPARATOR.join(d.parents),
        "the articles whose related: lists name it",
    ),
    # read by event clustering (indexer.events): a tie-break that is the same in every build, and the
    # first related: list naming the item (a signal, never a rule); stories themselves are derived data
    Field("key_hash", lambda: COLUMN(NumericColumn("Q")), lambda d: key_hash(d.key), "the canonical URL"),
    Field(
        "list_hash",
        lambda: COLUMN(NumericColumn("Q")),
        lambda d: key_hash(d.parents[0] if d.parents else d.key),
        "the first article listing it, or itself",
    ),
)

BY_NAME: Mapping[str, Field] = MappingProxyType({f.name: f for f in FIELDS})
FACETS: Mapping[str, Facet] = MappingProxyType({f.name: f.facet for f in FIELDS if f.facet is not None})
FACET_FIELDS: tuple[str, ...] = ("topics", "provider", "year", "month", "kind")  # the sidebar's order
TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.text)
# other names -> field, for filters (source=Reuters) and query syntax (publisher:reuters, date:2020)
ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: f.name for f in FIELDS for alias in (*f.aliases, *(f.facet.aliases if f.facet else ()))}
)
assert set(FACET_FIELDS) == set(FACETS), "FACET_FIELDS orders exactly the fields with a Facet"


def build_schema() -> Schema:
    """The index schema; changing it requires a full rebuild (``search-cli index --full``)."""
    return Schema(**{f.name: f.kind() for f in FIELDS})


def document_fields(doc) -> dict[str, Any]:
    """A document as Whoosh's ``add_document`` keyword arguments (absent values left out)."""
    values = {f.name: f.value(doc) for f in FIELDS}
    # shown as stored, not as indexed: the topic list (not its joined form), a missing quality as missing
    values["_stored_topics"] = list(doc.topics)
    values["_stored_quality"] = doc.quality
    return {k: v for k, v in values.items() if (v != "" and v is not None) or k == "_stored_quality"}


# fields whose value the table derives from the title, excerpt and provider alone
FROM_STORED_TEXT = ("title", "excerpt", "provider_text", "vocabulary", "title_exact")


def analyzed_texts(stored: Mapping[str, Any]) -> dict[str, str]:
    """The text each analyzed field received for a document, from its stored fields (by the table).

    The live statistics re-analyze deleted documents with it, so they count exactly what was indexed.
    """
    doc = SimpleNamespace(
        title=stored.get("title", ""), excerpt=stored.get("excerpt", ""), provider=stored.get("provider", "")
    )
    return {name: BY_NAME[name].value(doc) for name in FROM_STORED_TEXT}


_events_key_hash: Callable[[str], int] | None = None


def key_hash(key: str) -> int:
    """``indexer.events.key_hash``, imported when a build first calls it: a query never does (nor loads events).

    Kept after the first call: the field table calls it twice a document, and an import statement
    each time cost ~1.4 us a call.
    """
    global _events_key_hash
    if _events_key_hash is None:
        from .events import key_hash as loaded

        _events_key_hash = loaded
    return _events_key_hash(key)


@functools.cache
def _stored_names() -> frozenset[str]:
    return frozenset(f.name for f in FIELDS if f.kind().stored)


# a document's attributes the field table reads, and what a stored field without them holds
_ABSENT: Mapping[str, Any] = MappingProxyType(
    {
        **dict.fromkeys(("key", "url", "kind", "title", "excerpt", "image", "provider", "provider_domain"), ""),
        **dict.fromkeys(("published", "quality", "heat"), None),
        **dict.fromkeys(("topics", "sources", "parents"), ()),
    }
)


def restored_fields(stored: Mapping[str, Any]) -> dict[str, Any] | None:
    """A document's ``add_document`` arguments again, from its stored fields; None when they do not give them back.

    Every indexed value is a function of stored ones (the table), so an update can write a merged
    segment's documents anew instead of having Whoosh re-pool their postings. Checked, not assumed:
    only attributes held by a stored field of their name are given (a field reading any other makes
    this refuse), and the arguments must store exactly ``stored``.
    """
    names = _stored_names()
    values = {}
    for name, absent in _ABSENT.items():
        if name in names:
            value = stored.get(name, absent)
            values[name] = tuple(value or ()) if isinstance(absent, tuple) else value
    try:
        fields = document_fields(SimpleNamespace(**values))
    except AttributeError:  # a field reads what no stored field holds
        return None
    again = {name: fields.get(f"_stored_{name}", value) for name, value in fields.items() if name in names}
    # Whoosh stores no None (a missing quality)
    return fields if {k: v for k, v in again.items() if v is not None} == dict(stored) else None


def tiebreak(key: str) -> int:
    """A stable 31-bit number per URL: orders exact score ties the same way in every build."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=4).digest(), "big") >> 1


@functools.cache
def schema_version() -> str:
    """A hash of the field table and the derivation code: the manifest's version (read lazily: it reads source)."""
    text = "\n".join([str(DERIVATION_VERSION), *(f.fingerprint() for f in FIELDS)])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
