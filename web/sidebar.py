"""The page's narrowing controls as plain data: facet rows, the timeline's bars, and how a filter reads.

Each row carries its own link (``toggle_url``), whether it is ``selected`` and whether its list was
``truncated``, as Datasette's facets do, so the templates only lay them out.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import Any

from indexer.generations import IndexMissing
from indexer.schema import FACETS
from search.request import SearchRequest
from search.timeline import PeriodError, bucket_label, bucket_period, parse_period

from .params import engine, toggle_filter

CHART_WIDTH, CHART_HEIGHT = 240, 64
FACET_SHOWN = 10  # values listed before "Show N more"


def timeline_view(req: SearchRequest, histogram: dict[str, Any]) -> dict[str, Any] | None:
    """Bars of the coverage chart: geometry, a label, and the link that toggles that period."""
    buckets, interval = histogram.get("buckets") or [], histogram.get("interval")
    if not buckets or sum(b["count"] for b in buckets) == 0:
        return None
    peak = max(b["count"] for b in buckets)
    step = CHART_WIDTH / len(buckets)
    bars = []
    for i, bucket in enumerate(buckets):
        height = 0 if not bucket["count"] else max(2.0, CHART_HEIGHT * bucket["count"] / peak)
        label = bucket_label(bucket, interval)
        bars.append(
            {
                **bucket,
                "label": label,
                "x": round(i * step, 2),
                "width": round(max(1.0, step * 0.8), 2),
                "column": round(step, 2),  # the tap target: the whole column, however short the bar
                "y": round(CHART_HEIGHT - height, 2),
                "height": round(height, 2),
                "url": toggle_filter(req, "date", bucket_period(bucket)),
            }
        )
    busiest = max(bars, key=lambda b: b["count"])
    summary = (
        f"Matching items per {interval}, {bars[0]['label']} to {bars[-1]['label']};"
        f" most in {busiest['label']} ({busiest['count']})."
    )
    return {
        "interval": interval,
        "bars": bars,
        "summary": summary,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "first": bars[0]["label"],
        "last": bars[-1]["label"],
    }


def period_label(value: str) -> str:
    """A period filter as people say it: 'Jun 2020', 'week of Jun 1, 2020', '2020', else its two days."""
    try:
        start, end = parse_period(value)
    except PeriodError:
        return value
    bucket = {"start": start.isoformat(), "end": end.isoformat()}
    month_end = start.replace(day=calendar.monthrange(start.year, start.month)[1])  # no overflow at 9999-12
    if start == end:
        return _day(start)
    if start.day == 1 and end == month_end:
        return bucket_label(bucket, "month")
    if start.weekday() == 0 and (end - start).days == 6:
        return bucket_label(bucket, "week")
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        return bucket_label(bucket, "year" if start.year == end.year else "decade")
    return f"{_day(start)} – {_day(end)}"


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def story_title(key: str, hits: Sequence[dict[str, Any]]) -> str:
    """The title of the item a story is named by: from the hits shown when it is among them, else one lookup."""
    for hit in hits:
        for item in (hit, *hit.get("more_items", [])):
            if item.get("key") == key:
                return item["title"]
    try:
        found = engine().item(key)
    except IndexMissing:
        return key
    return found.get("title") or key if found else key


def value_label(field: str, value: str, hits: Sequence[dict[str, Any]] = ()) -> str:
    """How a filter's value reads: a story by its title, a period or month by name, else the facet's label."""
    if field == "story":
        return story_title(value, hits)
    if field == "date":
        return period_label(value)
    if field == "month":
        try:
            return dt.date.fromisoformat(value + "-01").strftime("%b %Y")
        except ValueError:
            return value
    return FACETS[field].label_of(value) if field in FACETS else value


def facet_view(field: str, result: dict[str, Any]) -> dict[str, Any] | None:
    """One facet: its first FACET_SHOWN values, the rest behind "Show N more" (open when one is selected)."""
    entries = [
        {**entry, "url": entry["toggle_url"], "param": f"{field}:{entry['value']}", "id": f"f-{field}-{i}"}
        for i, entry in enumerate(result["facets"].get(field, []))
    ]
    if not entries:
        return None
    meta = result["facet_meta"][field]
    shown, rest = entries[:FACET_SHOWN], entries[FACET_SHOWN:]
    return {
        "field": field,
        "label": meta["label"],
        "truncated": meta["truncated"],
        "entries": shown,
        "more": rest,
        "more_open": any(e["selected"] for e in rest),
    }
