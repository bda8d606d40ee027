"""Coverage timeline: per-period counts of matching items, and the period filter its bars link to."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from whoosh.util.times import datetime_to_long

from search.request import RequestError, build_request, toggler
from search.timeline import histogram, parse_period
from tests.conftest import search
from web import create_app


def longs(*dates: str) -> np.ndarray:
    return np.array([datetime_to_long(dt.datetime.fromisoformat(d)) for d in dates] + [-1], dtype=np.int64)


def test_short_spans_count_by_week_from_monday():
    result = histogram(longs("2020-06-03T10:00", "2020-06-07T23:59", "2020-06-08T00:00", "2020-06-24T12:00"))
    assert result["interval"] == "week" and result["undated"] == 1
    assert [(b["start"], b["end"], b["count"]) for b in result["buckets"]] == [
        ("2020-06-01", "2020-06-07", 2),
        ("2020-06-08", "2020-06-14", 1),
        ("2020-06-15", "2020-06-21", 0),  # empty weeks stay, so the chart's gaps are real
        ("2020-06-22", "2020-06-28", 1),
    ]


def test_longer_spans_count_by_month_then_by_year():
    months = histogram(longs("2020-01-31T23:00", "2020-06-01T00:00", "2020-06-30T23:59"))
    assert months["interval"] == "month"
    assert [(b["start"], b["end"], b["count"]) for b in months["buckets"]] == [
        ("2020-01-01", "2020-01-31", 1),
        ("2020-02-01", "2020-02-29", 0),
        ("2020-03-01", "2020-03-31", 0),
        ("2020-04-01", "2020-04-30", 0),
        ("2020-05-01", "2020-05-31", 0),
        ("2020-06-01", "2020-06-30", 2),
    ]
    years = histogram(longs("2001-05-01T00:00", "2020-06-01T00:00"))
    assert years["interval"] == "year" and len(years["buckets"]) == 20
    assert years["buckets"][0] == {"start": "2001-01-01", "end": "2001-12-31", "count": 1}
    assert histogram(np.array([-1, -1]))["buckets"] == []


def test_periods_doctests():
    import doctest

    from search import timeline

    assert doctest.testmod(timeline).failed == 0


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        ("2020-W24", "2020-06-08", "2020-06-14"),  # once the Monday alone (what fromisoformat reads)
        ("2020-06", "2020-06-01", "2020-06-30"),
        ("2020-02", "2020-02-01", "2020-02-29"),
        ("2020", "2020-01-01", "2020-12-31"),
        ("2020-W53", "2020-12-28", "2021-01-03"),
        (" 2020-06-30..2020-07 ", "2020-06-30", "2020-07-31"),
        ("9999-12", "9999-12-01", "9999-12-31"),
        ("9999-W52", "9999-12-27", "9999-12-31"),  # its Sunday is past the last date Python has
    ],
)
def test_a_period_end_may_be_a_week_a_month_or_a_year(value, first, last):
    assert parse_period(value) == (dt.date.fromisoformat(first), dt.date.fromisoformat(last))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-13-01", "must look like 2020-06-01..2020-06-30"),
        ("2020-13", "must look like"),
        ("2021-W53", "must look like"),
        ("20200610", "must look like"),
        ("June", "must look like"),
        ("2020-06-30..2020-06-01", "ends before it starts"),
        ("2020-07..2020-06", "ends before it starts"),
    ],
)
def test_bad_periods_are_explained(value, message):
    with pytest.raises(ValueError, match=message):
        parse_period(value)
    with pytest.raises(RequestError, match=message):
        build_request("x", filters=[f"date={value}"])


def test_timeline_counts_every_dated_match_and_a_bar_filters_to_its_count(ai_engine):
    result = search(ai_engine, "facial recognition")
    timeline = result["timeline"]
    assert timeline["interval"] == "month"
    assert sum(b["count"] for b in timeline["buckets"]) + timeline["undated"] == result["total"]
    busiest = max(timeline["buckets"], key=lambda b: b["count"])
    period = f"{busiest['start']}..{busiest['end']}"
    narrowed = search(ai_engine, "facial recognition", filters=[f"date={period}"], group=False, limit=100)
    assert narrowed["total"] == busiest["count"] < result["total"]
    assert all(period[:7] == h["published"][:7] for h in narrowed["hits"])
    # like a facet, the chart keeps the other periods under its own filter, the chosen one marked
    assert narrowed["timeline"]["buckets"] == [{**b, "selected": b == busiest} for b in timeline["buckets"]]


def test_page_draws_the_chart_with_links_and_a_text_alternative(seeds_index):
    client = create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False}).test_client()
    api = client.get("/api/search?q=microsoft").get_json()
    html = client.get("/?q=microsoft").get_data(as_text=True)
    bar = r'<a href="([^"]+)" data-nav aria-label="([^"]+)">\s*<rect class="tap"[^>]*>\s*<rect class="bar'
    bars = re.findall(bar, html)
    shown = [b for b in api["timeline"]["buckets"] if b["count"]]
    assert len(bars) == len(shown) >= 1
    href, label = bars[0]
    assert "filter=date%3A" in href and re.fullmatch(r"(week of )?\w+ .*: \d+ items?", label)
    assert 'id="timeline-summary"' in html and "Matching items per " in html
    assert client.get("/api/search?q=x&filter=date:June").status_code == 400


def test_a_month_filter_selects_its_bar_and_the_bar_removes_it(ai_engine):
    whole = search(ai_engine, "facial recognition")
    june = next(b for b in whole["timeline"]["buckets"] if b["start"] == "2020-06-01")
    narrowed = search(ai_engine, "facial recognition", filters=["date=2020-06"])
    assert narrowed["total"] == june["count"]
    assert [b for b in narrowed["timeline"]["buckets"] if b["selected"]] == [{**june, "selected": True}]
    request = build_request("x", filters=["date=2020-06"])
    assert request.filter_values("date") == ["2020-06-01..2020-06-30"]
    assert "date" not in toggler(request)("date", "2020-06-01..2020-06-30")  # the bar's link removes the filter
