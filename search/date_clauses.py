"""Date clauses typed in a query ("date:2020-W24", "published:>2020-06-15"): read as the date filter reads them.

The date filter, the timeline's links and a query's ``date:`` clause name periods the same ways
(``search.timeline.parse_period``); Whoosh's date parser reads only some of them, and what it cannot
read it makes nothing, which found nothing with no word why. So the filter's spellings are rewritten
as Whoosh's ranges before parsing, a date-time is read as its day, and a clause Whoosh still reads
as nothing is refused with a sentence listing what works.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from indexer.schema import ALIASES

if TYPE_CHECKING:
    from whoosh import query as wq

# how a period is written, in a filter, a timeline link or after "date:" (one sentence for all three)
PERIODS = "2020-06-01..2020-06-30 (first and last day), 2020-06 (a month), 2020-W24 (a week) or 2020 (a year)"
_FIELDS = "|".join(sorted({"published", *(a for a, f in ALIASES.items() if f == "published")}))
_ANY_CLAUSE = re.compile(rf"(?i)(?<![\w:])({_FIELDS}):")
# a clause's comparison and value, up to a space: a time's colons included (text_colons would split them)
_CLAUSE = re.compile(rf"(?i)(?<![\w:])({_FIELDS}):(>=|<=|>|<)?([^\s\[{{\"][^\s)]*)")
_DATE_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ]\S*")
# a range left open (no "]" or "}" after it): "date:[2020-06-01 TO 2020-06-30" closed after its end,
# "date:[2020-06 police" the period it opened, as "year:[2020" reads
_OPEN_RANGE = re.compile(rf"(?i)(?<![\w:])({_FIELDS}):([\[{{])(?![^\]}}]*[\]}}])(\S+)(\s+TO\s+[^\s\]}}]+)?")


class QueryDateUnclear(ValueError):
    """A date clause ("date:junk", "date:[junk") names no date; the message shows the spellings that do."""


def rewrite(syntax: str) -> str:
    """The query with its date clauses in the spellings the date filter reads, as Whoosh reads ranges.

    >>> rewrite("police date:2020-W24 published:>=2020-06-15T10:00:00Z date:2020-06-19T16:44:00Z")
    'police date:[2020-06-08 TO 2020-06-14] published:>=2020-06-15 date:[2020-06-19 TO 2020-06-19]'
    >>> rewrite("date:[2020 TO 2021] date:yesterday")
    'date:[2020 TO 2021] date:yesterday'
    >>> rewrite("published:[2020-06 police")
    'published:[2020-06-01 TO 2020-06-30] police'
    >>> rewrite("date:[2020-06-01 TO 2020-06-30 police")
    'date:[2020-06-01 TO 2020-06-30] police'
    """

    def one(m: re.Match) -> str:
        field, compare = m[1], m[2] or ""
        value = _DATE_TIME.sub(r"\1", m[3])  # a date-time is read as its day
        if compare:
            return f"{field}:{compare}{value}"
        from .timeline import PeriodError, parse_period  # numpy and Whoosh's times: only for a date clause

        try:
            start, end = parse_period(value)
        except PeriodError:
            return f"{field}:{value}"  # Whoosh's own spellings ("yesterday", "june 2020"): it reads those
        return f"{field}:[{start.isoformat()} TO {end.isoformat()}]"

    if ":" not in syntax:  # most queries name no field
        return syntax

    def closed(m: re.Match) -> str:
        if m[4]:
            return f"{m[1]}:{m[2]}{m[3]}{m[4]}{']' if m[2] == '[' else '}'}"
        return f"{m[1]}:{m[3]}"

    return _CLAUSE.sub(one, _OPEN_RANGE.sub(closed, syntax))


def require_dates(q: wq.Query, syntax: str, text: str) -> None:
    """QueryDateUnclear when ``syntax`` has a date clause and Whoosh read one as nothing.

    Searching on without it would answer another question, and nothing at all, as it did, says nothing.
    """
    if not (clause := _ANY_CLAUSE.search(syntax)):
        return
    from whoosh import query as wq

    pending = [q]
    while pending:
        node = pending.pop()
        if node == wq.NullQuery:
            raise QueryDateUnclear(
                f"a date in {text[:80]!r} is not one this search reads: after '{clause[1]}:' write {PERIODS};"
                f" or compare, {clause[1]}:>2020-06-15, or give a range, {clause[1]}:[2020-06-01 TO 2020-06-30]"
            )
        pending.extend(node.children())
