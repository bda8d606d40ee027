"""User text -> Whoosh query. Never raises on what a user typed: it falls back to the words."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexer.analysis import analyze, split_words
from indexer.schema import ALIASES, FACET_FIELDS, TEXT_FIELDS
from indexer.text import clean_text

from . import date_clauses
from .date_clauses import QueryDateUnclear
from .qtree import Node, Nothing, Words, from_whoosh
from .typed_syntax import FIELD_NAMES, SEARCHABLE_FIELDS, carets, syntax_of

if TYPE_CHECKING:
    from whoosh import query as wq
    from whoosh.qparser import MultifieldParser

MAX_QUERY_CHARS = 1_000
MAX_TERMS = 64
MIN_WILDCARD_PREFIX = 2

_OPERATOR_CHARS = re.compile(r'[":()\[\]{}*?^~]|(^|\s)[-+](?=[\w"(])|\b(AND|OR|NOT|ANDNOT|ANDMAYBE)\b')
_MINUS = re.compile(r"(^|[\s(])-(?=[\w\"(])")  # a minus starting a word or a group: PlusMinusPlugin's exclusion
# a group of nothing but exclusions, "(-amazon)" or "(-a -"b c")": its minuses have nothing to take from
# (not a field's group, "provider:(-reuters)": NOT reads that one right)
# (each exclusion ends at a space or the ")": with "\s*" there, "(-a-a-a…" could be split 2^n ways)
_EXCLUSION_GROUP = re.compile(r'(?<!:)\(\s*((?:-(?:"[^"]*"|[^\s()"]+)(?:\s+|(?=\))))+)\)')
# a clause on a field that holds no text ("date:>2021-01-01", "provider:\"The Verge\"", "year:[2019 TO 2020]")
_VALUE_CLAUSE = re.compile(r'(\w+):(?:\[[^\]]*\]|\{[^}]*\}|"[^"]*"|\([^)]*\)|\S+)')


class QueryTooLong(ValueError):
    """The query is above the documented size limit."""


class QueryTooBroad(ValueError):
    """A wildcard matches more words than a query may expand to; the message says what to do."""


# what a user can fix in the query text itself: shown as a 400 / exit 2 with the message
QUERY_REFUSALS = (QueryTooLong, QueryTooBroad, QueryDateUnclear)


@dataclass
class ParsedQuery:
    """A parsed query and what is known about it."""

    text: str
    tree: Node  # what the query means (search.qtree)
    words: list[str]  # the plain words typed (for did-you-mean)
    plain: bool  # True when the text is only words, no operators or fields
    fallback: bool = False  # True when the syntax was malformed and words were used instead


def normalize(text: str) -> str:
    """Clean user input the way documents were cleaned (entities, quotes, spaces)."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLong(f"query is {len(text):,} characters; the limit is {MAX_QUERY_CHARS:,}")
    return clean_text(text)


def load_parser() -> None:
    """Import Whoosh's query parser and query classes now: a server does at start, not on its first query with syntax.

    A one-shot command imports them only when its query has syntax (``_parser``): plain words never meet them.
    """
    import importlib

    # the parser with its date plugin (and whoosh.query), and the searcher phrases and corrections use
    for name in ("whoosh.qparser.dateparse", "whoosh.qparser.plugins", "whoosh.searching"):
        importlib.import_module(name)


def _parser(schema, any_word: bool) -> MultifieldParser:
    # Whoosh's parser is imported here: plain words (most queries, every CLI query of words) never need it
    from whoosh.qparser import AndGroup, GtLtPlugin, MultifieldParser, OrGroup, PlusMinusPlugin, SingleQuotePlugin
    from whoosh.qparser.dateparse import DateParserPlugin
    from whoosh.qparser.plugins import FieldAliasPlugin

    # the parser only matches: scores come from the ranking policy (search.ranking)
    parser = MultifieldParser(list(TEXT_FIELDS), schema, group=OrGroup.factory(0.9) if any_word else AndGroup)
    parser.remove_plugin_class(SingleQuotePlugin)  # apostrophes are part of words here
    # '+'/'-' only at the start of a word, so dates (2020-05) and names (Wi-Fi) stay intact
    parser.add_plugin(PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+(?=[\w\"(])", minusexpr=r"(?<![^\s(])-(?=[\w\"(])"))
    parser.add_plugin(GtLtPlugin())
    parser.add_plugin(DateParserPlugin(dateparser=None, free=False))
    aliases: dict[str, list[str]] = {}
    for alias, field in ALIASES.items():
        aliases.setdefault(field, []).append(alias)
    parser.add_plugin(FieldAliasPlugin(aliases))
    return parser


def _words_query(words: list[str]) -> wq.Query:
    """A query over the analyzed words alone, every one of them, for malformed syntax."""
    from whoosh import query as wq

    terms: list[wq.Query] = []
    for word in words:
        for term in analyze(word):
            terms.append(wq.Or([wq.Term(f, term) for f in TEXT_FIELDS]))
    if not terms:
        return wq.NullQuery
    return wq.And(terms)


NO_VALUE = "\x00"  # a facet term no item can hold: stored values are cleaned of control characters


def _bounded(q: wq.Query, resolve_value: Callable[[str, str], str | None]) -> wq.Query:
    """Make a parsed query safe and exact: cheap wildcards, known fields, canonical facet values."""
    from whoosh import query as wq

    def fix(node: wq.Query) -> wq.Query:
        if isinstance(node, wq.Every):
            return wq.Every()  # all documents, without walking a field's posting lists
        field = getattr(node, "fieldname", None)
        if field not in SEARCHABLE_FIELDS and (field is not None or isinstance(node, wq.Term)):
            # an unknown "field:" is most likely part of the text ("Re: ...", "AI: the ..."); a term of
            # no field is what Whoosh leaves of a boost after a date it could not parse ("published:xx^3")
            text = getattr(node, "text", "")
            return _words_query([str(text)]) if text else wq.NullQuery
        if isinstance(node, (wq.Wildcard, wq.Prefix, wq.Regex, wq.FuzzyTerm)):
            text = str(node.text)
            literal = re.split(r"[*?\[]", text, maxsplit=1)[0]
            if isinstance(node, wq.Regex) or len(literal) < MIN_WILDCARD_PREFIX:
                words = split_words(text)
                return _words_query(words) if words else wq.NullQuery
            if isinstance(node, wq.FuzzyTerm):
                node.maxdist = min(node.maxdist, 2)
        if field in FACET_FIELDS and isinstance(node, wq.Term):
            text = str(node.text)
            value = resolve_value(field, text)
            if value is None and (bare := text.strip("[]{}")) != text:
                # a bracket left of a range never closed ("year:[2020 police"): the value it opened
                value = resolve_value(field, bare)
            # a value no item has matches nothing, also inside AND: Whoosh's normalize() drops a
            # NullQuery from an And, which silently ignored "police provider:nytimes.com"
            return wq.Term(field, value if value is not None else NO_VALUE)
        return node

    return q.accept(fix)


def _values_narrow(q: wq.Query) -> wq.Query:
    """From five words on any word matches (an OR), but a clause on a field of values still narrows.

    "provider:reuters facial recognition police microsoft amazon" parses to one OR of the provider
    and the words, which let in every item holding one word. Each field's clauses become one
    required OR ("provider:reuters provider:bbc": either), beside the OR of the words.
    """
    from whoosh import query as wq

    if isinstance(q, wq.AndNot):  # "... -ibm": the exclusion takes from the narrowed query
        return wq.AndNot(_values_narrow(q.a), q.b)
    if not isinstance(q, wq.Or):
        return q
    fields: dict[str, list[wq.Query]] = {}
    words: list[wq.Query] = []
    for child in q.subqueries:
        field = getattr(child, "fieldname", None)
        if field is not None and field not in TEXT_FIELDS:
            fields.setdefault(field, []).append(child)
        else:
            words.append(child)
    if not fields or not words:
        return q
    rest = wq.Or(words, boost=q.boost, minmatch=q.minmatch, scale=q.scale)  # the words' OR as the parser made it
    return wq.And([*(one[0] if len(one) == 1 else wq.Or(one) for one in fields.values()), rest])


def _count_terms(q: wq.Query) -> int:
    return sum(1 for _ in q.leaves())


def parse(
    text: str,
    schema,
    resolve_value: Callable[[str, str], str | None],
    *,
    relaxed: bool = False,
    any_from: int = 5,
) -> ParsedQuery:
    """Parse ``text``; ``relaxed`` makes all words optional (best partial matches).

    From ``any_from`` content words on, any word matches (the policy's ``long_query_words``).
    """
    text = normalize(text)
    searched = carets(text)
    syntax = syntax_of(searched)
    words = split_words(searched)
    plain = not _OPERATOR_CHARS.search(syntax)
    # a field's clause is no word of the query ("date:>2021-01-01"); plain words hold none
    counted = words if plain else split_words(_without_value_clauses(syntax))
    content_words = [w for w in counted if analyze(w)]
    any_word = relaxed or len(content_words) >= any_from
    if not text:
        return ParsedQuery(text, Nothing(), [], plain=True)
    if len(words) > MAX_TERMS:
        # thousands of terms would cost thousands of posting lists: keep the first ones
        return words_only(ParsedQuery(text, Nothing(), words[:MAX_TERMS], plain=True))
    if plain:
        # plain words are matched and scored from their analyzed terms (search.words): no parse
        return ParsedQuery(text, Words(tuple(words), any_word=any_word), words, plain=True)
    from whoosh import query as wq  # syntax: Whoosh parses it (its query classes load with the parser)

    try:
        parser = _parser(schema, any_word)
        q = _parse_syntax(parser, syntax)
        date_clauses.require_dates(q, syntax, text)
        q = _bounded(q, resolve_value)
        if any_word:
            q = _values_narrow(q)
        q = q.normalize()
        if _count_terms(q) > MAX_TERMS:
            raise ValueError("too many terms")
        if q is wq.NullQuery and content_words:
            raise ValueError("syntax left no query")
        tree = from_whoosh(q)
    except QueryDateUnclear:
        raise
    except Exception:  # noqa: BLE001 - Whoosh raises bare Exception (e.g. unparseable dates): use the words
        return ParsedQuery(text, Words(tuple(words), any_word=any_word), words, plain=True, fallback=True)
    return ParsedQuery(text, tree, words, plain=plain)


def _without_value_clauses(syntax: str) -> str:
    """The query without its clauses on fields of values (dates, providers, topics).

    What is left are the words that count towards "any word matches from N words", which a date's
    digits must not reach.

    >>> _without_value_clauses('date:>2021-01-01 police provider:"The Verge" title:ban')
    '  police   title:ban'
    """

    def keep(m: re.Match) -> str:
        return m[0] if ALIASES.get(m[1], m[1]) in TEXT_FIELDS or m[1] not in FIELD_NAMES else " "

    return _VALUE_CLAUSE.sub(keep, syntax)


def _parse_syntax(parser: MultifieldParser, syntax: str) -> wq.Query:
    """Whoosh's parse of ``syntax``, every exclusion taking from the whole query.

    Whoosh's minus takes from what stands beside it in its group. In a group of its own ("police
    (-amazon)") Whoosh raises, so such groups are unwrapped first ("police -amazon"; read as NOT
    instead, an OR of 4+ words would match everything); alone ("-openai") the minus parses to
    nothing, and NOT, which means the same, stands alone. Either way the word fallback would have
    searched for the very words the user excluded.
    """
    from whoosh import query as wq  # the parser loaded it already

    unwrapped = 1
    while unwrapped:  # "((-a))": one level a pass
        syntax, unwrapped = _EXCLUSION_GROUP.subn(r" \1 ", syntax)
    excludes = _MINUS.search(syntax) is not None
    try:
        q = parser.parse(syntax, debug=False)
    except Exception:  # Whoosh raises NotImplementedError("Minus"); other errors fall back to words
        if not excludes:
            raise
        q = wq.NullQuery
    if q is wq.NullQuery and excludes:
        q = parser.parse(_MINUS.sub(r"\1NOT ", syntax), debug=False)
    return q


def words_only(parsed: ParsedQuery) -> ParsedQuery:
    """The same text searched as plain words, any of them (when its syntax cannot run against the index)."""
    return ParsedQuery(parsed.text, Words(tuple(parsed.words), any_word=True), parsed.words, plain=True, fallback=True)
