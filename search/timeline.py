"""Coverage over time: matching items per week, month or year, and the period filter that bars link to.

Dates are the index's ``published`` values (Whoosh longs: microseconds since 0001-01-01, negative
when an item has no date). A period is a range of whole days, written ``2020-06-01..2020-06-07``,
or by week, month or year (``2020-W24``, ``2020-06``, ``2020``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
from whoosh.util.times import datetime_to_long

from indexer.schema import DAY_US

from .date_clauses import PERIODS

__all__ = ["Calendar", "PeriodError"]
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
WEEKLY_UP_TO_DAYS = 120  # about 17 weekly bars; longer spans are shown by month
# month numbers this far apart have whole months between them longer than WEEKLY_UP_TO_DAYS
_MONTHS_APART_NOT_WEEKLY = WEEKLY_UP_TO_DAYS // 28 + 2
MONTHLY_UP_TO_MONTHS = 120  # ten years by month; longer spans by year
MAX_BARS = 120  # a chart never has more bars than this, whatever dates the seeds hold
YEAR_INTERVALS = (("year", 1), ("decade", 10), ("century", 100), ("millennium", 1000))
PERIOD_SEPARATOR = ".."


class PeriodError(ValueError):
    """A period filter a user can fix; the message says how."""


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """A period filter -> its first and last day, inclusive.

    Each end is a day, an ISO week, a month or a year, so ``2020-06`` is all of June and
    ``2020-W24..2020-W26`` three whole weeks (a bare ``2020-W24`` once parsed as its Monday alone).

    >>> parse_period("2020-06-01..2020-06-07")
    (datetime.date(2020, 6, 1), datetime.date(2020, 6, 7))
    >>> parse_period("2020-06")
    (datetime.date(2020, 6, 1), datetime.date(2020, 6, 30))
    >>> parse_period("2020-W24")
    (datetime.date(2020, 6, 8), datetime.date(2020, 6, 14))
    >>> parse_period("2019..2020-02")
    (datetime.date(2019, 1, 1), datetime.date(2020, 2, 29))
    """
    first, separator, last = text.strip().partition(PERIOD_SEPARATOR)
    try:
        start = _calendar_unit(first)[0]
        end = _calendar_unit(last if separator else first)[1]
    except (ValueError, OverflowError):
        raise PeriodError(f"date filter {text[:40]!r} must look like {PERIODS}") from None
    if end < start:
        raise PeriodError(f"date filter {text[:40]!r} ends before it starts")
    return start, end


_UNIT = re.compile(r"(\d{4})(?:-W(\d{2})|-(\d{2})(?:-(\d{2}))?)?")


def _calendar_unit(text: str) -> tuple[dt.date, dt.date]:
    """The first and last day of '2020-06-01', '2020-W24', '2020-06' or '2020' (ValueError otherwise)."""
    found = _UNIT.fullmatch(text.strip())
    if not found:
        raise ValueError(text)
    year, week, month, day = (int(part) if part else None for part in found.groups())
    if week is not None:
        monday = dt.date.fromisocalendar(year, week, 1)
        # 9999's last week ends after the last date Python has (9999-12-31, a Friday)
        return monday, monday + dt.timedelta(days=min(6, (dt.date.max - monday).days))
    if day is not None:
        return (dt.date(year, month, day),) * 2
    if month is not None:
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def period_text(start: str, end: str) -> str:
    """A period's one spelling as a filter value, from ISO days: '2020-06-01..2020-06-30', or one day alone."""
    return start if start == end else f"{start}{PERIOD_SEPARATOR}{end}"


def bucket_period(bucket: dict) -> str:
    """The date filter value selecting one bucket ('2020-06-01..2020-06-30')."""
    return period_text(bucket["start"], bucket["end"])


def period_mask(published: np.ndarray, text: str) -> np.ndarray:
    """Documents published within the period (items without a date never are)."""
    start, end = parse_period(text)
    low = datetime_to_long(dt.datetime.combine(start, dt.time()))
    # the day after ``end`` as a number, not a date: 9999-12-31 has no next date to construct
    high = datetime_to_long(dt.datetime.combine(end, dt.time())) + DAY_US
    return (published >= low) & (published < high)


@dataclass(frozen=True)
class Calendar:
    """Day and month numbers of every document of a generation: converted once, counted per query."""

    dated: np.ndarray  # whether the document has a date
    days: np.ndarray  # days since 1970-01-01 (0 where undated)
    months: np.ndarray  # months since 1970-01
    all_dated: bool = False  # every document has a date: document numbers need no check

    @classmethod
    def of(cls, published: np.ndarray, days_months: tuple[np.ndarray, np.ndarray] | None = None) -> "Calendar":
        """From Whoosh ``published`` longs (negative when an item has no date).

        ``days_months``: their day and month numbers, when a build derived them already
        (``indexer.derive.calendar``).
        """
        if days_months is None:
            from indexer.derive import calendar

            days_months = calendar(published)
        days, months = days_months
        dated = published >= 0
        return cls(dated, days, months, bool(dated.all()))

    def histogram(self, mask: np.ndarray | None = None) -> dict:
        """Counts per period over the span of the selected documents' dates, empty periods included.

        ``mask`` selects documents (a boolean mask, or document numbers in ascending order).

        The interval follows the span: weeks (from Monday) up to ~4 months, months up to ten
        years, years beyond. Returns ``{"interval", "buckets": [{start, end, count}], "undated"}``.
        """
        if mask is not None and mask.dtype != bool:  # document numbers: gather only those
            chosen = len(mask)
            selected = mask if self.all_dated else np.compress(self.dated[mask], mask)  # 4x boolean indexing
        else:
            selected = self.dated if mask is None else mask & self.dated
            chosen = len(self.dated) if mask is None else int(mask.sum())
        months = self.months[selected]
        result: dict = {"interval": None, "buckets": [], "undated": chosen - len(months)}
        if len(months) == 0:
            return result
        low, high = int(months.min()), int(months.max())
        # dates that many months apart span more than the weekly range: no need to read the days
        days = self.days[selected] if high - low < _MONTHS_APART_NOT_WEEKLY else None
        if days is not None and int(days.max() - days.min()) <= WEEKLY_UP_TO_DAYS:
            weeks = days - (days + 3) % 7  # 1970-01-01 was a Thursday: this is the Monday on or before
            first = int(weeks.min())
            counts = np.bincount((weeks - first) // 7)
            starts = [_day(first + 7 * i) for i in range(len(counts))]
            ends = [_day(first + 7 * i + 6) for i in range(len(counts))]
            interval = "week"
        elif high - low < MONTHLY_UP_TO_MONTHS:
            counts = np.bincount(months - low)
            starts = [_month(low + i) for i in range(len(counts))]
            ends = [_month_end(low + i) for i in range(len(counts))]
            interval = "month"
        else:
            # years, or decades or centuries when the span would draw thousands of bars
            years = months // 12 + 1970
            interval, width = next(
                (name, w) for name, w in YEAR_INTERVALS if int(years.max() // w - years.min() // w) < MAX_BARS
            )
            first = int(years.min()) // width
            counts = np.bincount(years // width - first)
            starts = [dt.date(max(1, (first + i) * width), 1, 1) for i in range(len(counts))]
            ends = [dt.date(min(dt.MAXYEAR, (first + i + 1) * width - 1), 12, 31) for i in range(len(counts))]
        result["interval"] = interval
        result["buckets"] = [
            {"start": s.isoformat(), "end": e.isoformat(), "count": int(c)}
            for s, e, c in zip(starts, ends, counts, strict=True)
        ]
        return result


def histogram(published: np.ndarray) -> dict:
    """The histogram of a set of ``published`` values (see ``Calendar.histogram``)."""
    return Calendar.of(published).histogram()


def bucket_label(bucket: dict, interval: str) -> str:
    """'Jun 2020', 'week of Jun 1, 2020', '2020', or '2020–2029' for longer intervals."""
    start = dt.date.fromisoformat(bucket["start"])
    if interval == "year":
        return str(start.year)
    if interval in dict(YEAR_INTERVALS):
        return f"{start.year}–{dt.date.fromisoformat(bucket['end']).year}"
    if interval == "month":
        return start.strftime("%b %Y")
    return f"week of {start.strftime('%b')} {start.day}, {start.year}"


def _day(days_since_epoch: int) -> dt.date:
    # clamped: the week holding 9999-12-31 ends after the last date Python can represent
    return dt.date.fromordinal(min(_EPOCH_ORDINAL + int(days_since_epoch), dt.date.max.toordinal()))


def _month_end(months_since_epoch: int) -> dt.date:
    following = months_since_epoch + 1
    if 1970 + following // 12 > dt.date.max.year:
        return dt.date.max
    return _month(following) - dt.timedelta(days=1)


def _month(months_since_epoch: int) -> dt.date:
    return dt.date(1970 + months_since_epoch // 12, months_since_epoch % 12 + 1, 1)
