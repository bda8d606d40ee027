"""The project's own small query tree: what a query means, independent of how Whoosh parsed it.

``search.query`` parses user text with Whoosh's query parser and hands its tree to ``from_whoosh``;
``search.evaluate`` walks the nodes below, matching and scoring in one place. Plain words (the
common case) are one ``Words`` node and never meet the parser.

>>> from whoosh import query as wq
>>> from_whoosh(wq.AndNot(wq.Term("title", "polic"), wq.Term("title", "microsoft")))
Without(keep=Term(field='title', text='polic'), drop=Term(field='title', text='microsoft'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whoosh import query as wq


@dataclass(frozen=True)
class Words:
    """Plain words, as typed: matched and scored by the words path (alternatives, coordination)."""

    words: tuple[str, ...]
    any_word: bool = False  # any word matches (long queries, malformed syntax); else the policy's rule


@dataclass(frozen=True)
class Term:
    """One index term in one field (a word, a facet value)."""

    field: str
    text: str


@dataclass(frozen=True)
class Phrase:
    """Words in this order, next to each other, in one field."""

    field: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Expand:
    """A pattern, fuzzy term or range: the index words it stands for (``source`` is Whoosh's node)."""

    field: str
    source: Any = None
    label: str = ""


@dataclass(frozen=True)
class Dates:
    """Items published within a range (Whoosh longs, as the ``published`` array holds them)."""

    start: int | None
    end: int | None
    start_excluded: bool = False
    end_excluded: bool = False


@dataclass(frozen=True)
class All:
    """Every child matches."""

    children: tuple


@dataclass(frozen=True)
class Any_:
    """Some child matches."""

    children: tuple


@dataclass(frozen=True)
class Without:
    """``keep`` matches and ``drop`` does not."""

    keep: Any
    drop: Any


@dataclass(frozen=True)
class Maybe:
    """``keep`` matches; ``extra`` only adds to the score."""

    keep: Any
    extra: Any


@dataclass(frozen=True)
class Not:
    """Every item the child does not match."""

    child: Any


@dataclass(frozen=True)
class Everything:
    """Every item."""


@dataclass(frozen=True)
class Nothing:
    """No item."""


Node = Words | Term | Phrase | Expand | Dates | All | Any_ | Without | Maybe | Not | Everything | Nothing


def from_whoosh(q: wq.Query) -> Node:
    """Our tree for a (bounded, normalized) Whoosh query tree."""
    from whoosh import query as wq  # a query with syntax: the parser has loaded it already

    if isinstance(q, wq.Every):
        return Everything()
    if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
        return Nothing()
    if isinstance(q, wq.Term):
        return Term(q.fieldname, q.text.decode("utf-8") if isinstance(q.text, bytes) else str(q.text))
    if isinstance(q, wq.Phrase):
        return Phrase(q.fieldname, tuple(str(w) for w in q.words))
    if isinstance(q, wq.NumericRange):
        return Dates(q.start, q.end, q.startexcl, q.endexcl)
    if isinstance(q, wq.MultiTerm):
        return Expand(q.fieldname, q, str(q))
    if isinstance(q, wq.AndNot):
        return Without(from_whoosh(q.a), from_whoosh(q.b))
    if isinstance(q, wq.AndMaybe):
        return Maybe(from_whoosh(q.a), from_whoosh(q.b))
    if isinstance(q, wq.Not):
        return Not(from_whoosh(q.query))
    if isinstance(q, wq.And):
        return All(tuple(from_whoosh(c) for c in q.children()))
    if isinstance(q, wq.Or):
        return Any_(tuple(from_whoosh(c) for c in q.children()))
    raise ValueError(f"unsupported query part {type(q).__name__}")
