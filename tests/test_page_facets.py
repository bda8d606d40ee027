"""Facets and filter chips read as words: "Show more" without script, kinds, stories and periods by name."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from web.sidebar import FACET_SHOWN, period_label


def facet_html(html: str, legend: str) -> str:
    return re.search(rf"<legend>{legend}</legend>(.*?)</fieldset>", html, re.S).group(1)


def test_a_facet_lists_ten_values_and_holds_the_rest_in_a_details_element(seeds_client):
    providers = seeds_client.get("/api/search").get_json()["facets"]["provider"]
    assert len(providers) > FACET_SHOWN == 10
    source = facet_html(seeds_client.get("/").get_data(as_text=True), "Source")
    shown, _, rest = source.partition('<details class="more" id="more-provider">')
    assert rest, "the values past the tenth sit in a <details> (no script needed to open it)"
    assert re.findall(r'value="provider:([^"]+)"', shown) == [escape(p["value"]) for p in providers[:10]]
    assert re.findall(r'value="provider:([^"]+)"', rest) == [escape(p["value"]) for p in providers[10:]]
    assert f'<summary><span class="when-closed">Show {len(providers) - 10} more</span>' in rest
    topics = facet_html(seeds_client.get("/").get_data(as_text=True), "Topics")
    assert "<details" not in topics  # four values: nothing to fold


def test_the_rest_opens_by_itself_when_one_of_its_values_is_selected(seeds_client):
    providers = seeds_client.get("/api/search").get_json()["facets"]["provider"]
    late = providers[-1]["value"]
    html = seeds_client.get("/", query_string={"filter": f"provider:{late}"}).get_data(as_text=True)
    assert '<details class="more" id="more-provider" open>' in facet_html(html, "Source")
    early = seeds_client.get("/", query_string={"filter": f"provider:{providers[0]['value']}"}).get_data(as_text=True)
    assert '<details class="more" id="more-provider">' in facet_html(early, "Source")


def test_kinds_read_as_words_in_the_facet_and_the_chip(seeds_client):
    html = seeds_client.get("/?q=police").get_data(as_text=True)
    kind = facet_html(html, "Kind")
    assert re.search(r'value="kind:related"[^>]*>\s*<label[^>]*><span class="value">Related coverage</span>', kind)
    assert re.search(r'value="kind:article"[^>]*>\s*<label[^>]*><span class="value">Articles</span>', kind)
    chip = seeds_client.get("/?q=police&filter=kind:article").get_data(as_text=True)
    assert 'aria-label="Remove filter Kind: Articles">Kind: <bdi>Articles</bdi> <span' in chip


def test_a_story_chip_shows_the_lead_title_even_when_the_lead_is_not_on_the_page(seeds_client):
    # a story (of those "police" finds) holding a Reuters item other than its lead: a search inside the
    # story that the lead article does not match, so its title must be looked up
    for top in seeds_client.get("/api/search?q=police").get_json()["hits"]:
        story = top["story"]
        inside = seeds_client.get(
            "/api/search", query_string={"q": "reuters", "filter": f"story:{story}", "group": "0"}
        )
        if inside.get_json()["total"] and story not in [h["key"] for h in inside.get_json()["hits"]]:
            break
    else:
        pytest.fail("no story found by 'police' holds a Reuters item besides its lead")
    lead = seeds_client.get("/api/search", query_string={"filter": f"story:{story}", "group": "0", "limit": 50})
    title = next(h["title"] for h in lead.get_json()["hits"] if h["key"] == story)  # named by its earliest item
    html = seeds_client.get("/", query_string={"q": "reuters", "filter": f"story:{story}", "group": "0"})
    chip = f'aria-label="Remove filter Story: {escape(title)}">Story: <bdi>{escape(title)}</bdi> <span'
    assert chip in html.get_data(True)
    assert f"Story: {story}" not in html.get_data(as_text=True)
    # and when it is on the page, the same title (from the hits, no lookup)
    listing = seeds_client.get("/", query_string={"filter": f"story:{story}", "group": "0"}).get_data(as_text=True)
    assert f">Story: <bdi>{escape(title)}</bdi> <span" in listing


def test_removing_the_story_chip_or_clearing_all_groups_again_but_a_provider_chip_keeps_the_view(seeds_client):
    story = seeds_client.get("/api/search?q=police").get_json()["hits"][0]["story"]
    query = {"q": "police", "filter": [f"story:{story}", "provider:Reuters"], "group": "0"}
    html = seeds_client.get("/", query_string=query).get_data(as_text=True)
    found = re.findall(r'<a class="chip" href="\?([^"]*)" data-nav aria-label="Remove filter (\w+):', html)
    chips = {field: href for href, field in found}
    assert "group=0" not in chips["Story"]  # the story's view turned grouping off; leaving it turns it on
    assert "group=0" in chips["Source"]  # still inside the story: its items stay one per line
    clear = re.search(r'<a class="clear" href="\?([^"]*)"', html).group(1)
    assert clear == "q=police"
    # grouping turned off by hand, with no story: removing a filter keeps it off
    plain = seeds_client.get("/", query_string={"q": "police", "filter": "provider:Reuters", "group": "0"})
    assert "group=0" in re.search(r'<a class="chip" href="\?([^"]*)"', plain.get_data(as_text=True)).group(1)


def test_a_corrected_query_is_the_one_the_count_names(seeds_client):
    html = seeds_client.get("/?q=facial+recgonition").get_data(as_text=True)
    assert "Showing results for" in html
    assert re.search(r"results? for “<bdi>facial recognition</bdi>”", html)
    assert "for “<bdi>facial recgonition</bdi>”" not in html


def test_an_unknown_story_chip_falls_back_to_its_key(seeds_client):
    html = seeds_client.get("/", query_string={"filter": "story:nope.example/<b>x</b>"}).get_data(as_text=True)
    assert ">Story: <bdi>nope.example/&lt;b&gt;x&lt;/b&gt;</bdi> <span" in html and "<b>x</b>" not in html


def test_period_chips_name_the_period(seeds_client):
    html = seeds_client.get("/", query_string={"filter": "date:2020-06-08..2020-06-14"}).get_data(as_text=True)
    week = 'aria-label="Remove filter Period: week of Jun 8, 2020">Period: <bdi>week of Jun 8, 2020</bdi> <span'
    assert week in html
    month = seeds_client.get("/", query_string={"filter": ["date:2020-06-01..2020-06-30", "month:2021-03"]})
    assert ">Period: <bdi>Jun 2020</bdi> <span" in month.get_data(as_text=True)
    assert ">Month: <bdi>Mar 2021</bdi> <span" in month.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("2020-06-01..2020-06-30", "Jun 2020"),
        ("2020-02-01..2020-02-29", "Feb 2020"),
        ("2020-12-01..2020-12-31", "Dec 2020"),
        ("2020-06-01..2020-06-07", "week of Jun 1, 2020"),
        ("2020-01-01..2020-12-31", "2020"),
        ("2020-01-01..2029-12-31", "2020–2029"),
        ("2020-06-03", "Jun 3, 2020"),
        ("2020-06-03..2020-06-10", "Jun 3, 2020 – Jun 10, 2020"),
        ("2020-06-02..2020-06-08", "Jun 2, 2020 – Jun 8, 2020"),  # seven days, but not from a Monday
        ("not a period", "not a period"),
    ],
)
def test_period_labels(value, label):
    assert period_label(value) == label


def test_a_page_of_only_partial_matches_says_none_has_every_word(seeds_client):
    """A UX pass filtered to a month: "2 results · 0 with every word, then 2 with some of them"."""
    html = seeds_client.get("/?q=facial+recognition+police&filter=year%3D2021").get_data(as_text=True)
    assert "none with every word; these have some of them" in html
    assert "0 with every word" not in html
    html = seeds_client.get("/?q=facial+recognition+police").get_data(as_text=True)
    assert re.search(r"\d+ with every word, then \d+ with some of them", html)


def test_a_query_of_spaces_counts_items_as_browsing_does(seeds_client):
    """Three spaces read "53 results for “ ”"; they are no query."""
    html = seeds_client.get("/?q=+++").get_data(as_text=True)
    assert "for “<bdi>" not in html and re.search(r"<strong>\d+</strong> items", html)


def test_each_timeline_bar_is_tapped_by_its_whole_column(seeds_client):
    """A UX pass on a phone: a month of one or two items was a link 15 x 2 px."""
    html = seeds_client.get("/?q=police").get_data(as_text=True)
    bar_link = r"<a href=\"[^\"]*\" data-nav aria-label=\"[^\"]*item[^\"]*\">\s*(<rect[^>]*>)\s*<rect class=\"bar"
    links = re.findall(bar_link, html)
    assert len(links) >= 2
    for hit in links:
        assert 'class="tap"' in hit and 'y="0"' in hit and 'height="64"' in hit
    columns = [float(w) for w in re.findall(r'<rect class="tap" x="[^"]*" y="0" width="([^"]+)"', html)]
    bars = [float(w) for w in re.findall(r'<rect class="bar[^"]*" x="[^"]*" y="[^"]*" width="([^"]+)"', html)]
    assert len(columns) == len(bars) and all(c >= b > 0 for c, b in zip(columns, bars, strict=True))


def test_a_result_lacking_a_searched_word_says_which(seeds_client):
    html = seeds_client.get("/?q=facial+recognition+police&group=0&limit=100").get_data(as_text=True)
    assert '<span class="missing">Missing: <s><bdi>police</bdi></s></span>' in html
    # a last word no item holds, typed in full: every result lacks it, and each says so
    html = seeds_client.get("/?q=facial+recognition+portland&group=0").get_data(as_text=True)
    assert html.count('<span class="missing">Missing: <s><bdi>portland</bdi></s></span>') >= 10
