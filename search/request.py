"""A validated search request: the one shape the CLI, the page and the API all send."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote_plus, urlencode

from indexer.records import MAX_URL_CHARS
from indexer.schema import FACET_FIELDS, FACETS
from indexer.text import clean_query

from .query import MAX_QUERY_CHARS
from .timeline import PeriodError, parse_period, period_text

SORTS = ("relevance", "newest", "quality")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_PAGE = 1_000
MAX_FILTERS = 50
# a story is named by its lead's URL, and real URLs pass 200 characters: a value is cut only past
# the longest URL an item may have (cut shorter, the filter would select nothing)
MAX_FILTER_VALUE = MAX_URL_CHARS
# fields that narrow results without being counted as facets: story:URL lists one story's items,
# date:2020-06-01..2020-06-30 one period of the coverage timeline
FILTER_FIELDS = (*FACET_FIELDS, "story", "date")
FILTER_ALIASES = {alias: field for field, facet in FACETS.items() for alias in facet.aliases}


class RequestError(ValueError):
    """A parameter a user can fix; the message says how."""


@dataclass(frozen=True)
class SearchRequest:
    """What to search for, which page, in which order, narrowed by which facet values."""

    q: str = ""
    page: int = 1
    limit: int = DEFAULT_LIMIT
    sort: str = "relevance"
    filters: tuple[tuple[str, str], ...] = ()
    group: bool = True  # one hit per story, the others counted in its ``more``
    explain: bool = False  # each hit carries its score broken into the ranking policy's rules
    prefix: bool = True  # the last word also matches words it begins (unless the query ends in a space)
    typos: bool = True  # a misspelt word also matches its close spellings

    def filter_values(self, field: str) -> list[str]:
        """Selected values of one facet field."""
        return [v for f, v in self.filters if f == field]

    @property
    def offset(self) -> int:
        """Index of the first hit of the page."""
        return (self.page - 1) * self.limit

    @property
    def last_word_open(self) -> bool:
        """Whether the query's last word may still be being typed: it ends in a letter, digit or mark.

        A query ending in a space or a sign ("C++", "C#", a question's "?") has its last word whole: "C++"
        completed "c" to every word it begins ("could", "challenges") and found a third of the collection.
        """
        return bool(self.q) and unicodedata.category(self.q[-1])[0] in "LNM"


def _int(name: str, value: object, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise RequestError(f"'{name}' must be a whole number, got {str(value)[:20]!r}") from None
    if not low <= number <= high:
        raise RequestError(f"'{name}' must be between {low} and {high}, got {number}")
    return number


def parse_filter(text: str) -> tuple[str, str]:
    """'provider=Reuters' or 'provider:Reuters' -> ('provider', 'Reuters')."""
    text = clean_query(text)  # first: dropping bidi controls moves where the field's name ends
    positions = [i for i in (text.find("="), text.find(":")) if i > 0]
    if not positions:
        raise RequestError(f"filter {text[:60]!r} must look like FIELD=VALUE, e.g. provider=Reuters")
    cut = min(positions)
    field = text[:cut].strip().lower()
    field = FILTER_ALIASES.get(field, field)
    value = text[cut + 1 :].strip()
    if field not in FILTER_FIELDS:
        raise RequestError(f"cannot filter on {field[:30]!r}; use one of: {', '.join(FILTER_FIELDS)}")
    if not value:
        raise RequestError(f"filter on {field!r} has no value")
    if field == "date":
        try:
            start, end = parse_period(value)
        except PeriodError as exc:
            raise RequestError(str(exc)) from None
        # one spelling per period ('2020-06' is '2020-06-01..2020-06-30'), so the timeline's bar for it
        # shows as selected and its link removes the filter, as a facet value's does
        value = period_text(start.isoformat(), end.isoformat())
    return field, value[:MAX_FILTER_VALUE]


def build_request(
    q: str | None = "",
    page: object = None,
    limit: object = None,
    sort: str | None = None,
    filters: Iterable[str] = (),
    group: object = None,
    explain: object = None,
    prefix: object = None,
    typos: object = None,
) -> SearchRequest:
    """Validate raw parameters (from argv or a URL); raise RequestError on nonsense."""
    q = q or ""
    if len(q) > MAX_QUERY_CHARS:
        raise RequestError(f"query is {len(q):,} characters; the limit is {MAX_QUERY_CHARS:,}")
    q = clean_query(q)
    sort = (sort or "relevance").strip().lower()
    if sort not in SORTS:
        raise RequestError(f"'sort' must be one of {', '.join(SORTS)}, got {sort[:20]!r}")
    pairs = [parse_filter(f) for f in filters if f]
    if len(pairs) > MAX_FILTERS:
        raise RequestError(f"at most {MAX_FILTERS} filters")
    return SearchRequest(
        q=q,
        page=_int("page", page, 1, 1, MAX_PAGE),
        limit=_int("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT),
        sort=sort,
        filters=tuple(dict.fromkeys(pairs)),
        group=_bool("group", group, True),
        explain=_bool("explain", explain, False),
        prefix=_bool("prefix", prefix, True),
        typos=_bool("typos", typos, True),
    )


def _bool(name: str, value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise RequestError(f"'{name}' must be 1 or 0, got {text[:20]!r}")


def query_string(req: SearchRequest, **changes) -> str:
    """The URL query for ``req`` with ``changes`` applied (page, sort, filters, q)."""
    q = changes.get("q", req.q)
    sort = changes.get("sort", req.sort)
    page = changes.get("page", 1)
    filters = changes.get("filters", req.filters)
    group = changes.get("group", req.group)
    typos = changes.get("typos", req.typos)
    pairs: list[tuple[str, str]] = []
    if q:
        pairs.append(("q", q))
    pairs += [("filter", f"{field}:{value}") for field, value in filters]
    if sort != "relevance":
        pairs.append(("sort", sort))
    if not group:
        pairs.append(("group", "0"))
    if not req.prefix:
        pairs.append(("prefix", "0"))
    if not typos:
        pairs.append(("typos", "0"))
    if req.limit != DEFAULT_LIMIT:
        pairs.append(("limit", str(req.limit)))
    if page != 1:
        pairs.append(("page", str(page)))
    return "?" + urlencode(pairs) if pairs else "?"


def toggler(req: SearchRequest) -> Callable[[str, str], str]:
    """``toggle_filter`` for one request, made for the many facet rows of one answer.

    Adding a value only inserts one ``filter=`` pair after the request's own filters, so the
    encoded parts before and after it are encoded once (urlencode per row was a sixth of an
    uncached request); a selected value, which removes a pair, takes ``toggle_filter``.
    """
    head = urlencode([*([("q", req.q)] if req.q else []), *(("filter", f"{f}:{v}") for f, v in req.filters)])
    tail = query_string(req, q="", filters=())[1:]
    chosen = {(f, v.casefold()) for f, v in req.filters}
    before, after = f"?{head}&" if head else "?", f"&{tail}" if tail else ""

    def toggle(field: str, value: str) -> str:
        if chosen and (field, value.casefold()) in chosen:
            return toggle_filter(req, field, value)
        return before + _filter_pair(field, value) + after

    return toggle


@functools.lru_cache(maxsize=8_192)  # facet values repeat from one answer to the next
def _filter_pair(field: str, value: str) -> str:
    return "filter=" + quote_plus(f"{field}:{value}")


def toggle_filter(req: SearchRequest, field: str, value: str) -> str:
    """URL query that adds the facet value when absent and removes it when selected."""
    pair = (field, value)
    selected = pair in req.filters or any(f == field and v.casefold() == value.casefold() for f, v in req.filters)
    if selected:
        filters = tuple(p for p in req.filters if not (p[0] == field and p[1].casefold() == value.casefold()))
    else:
        filters = (*req.filters, pair)
    return query_string(req, filters=filters)
