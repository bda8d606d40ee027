"""Page and API contracts through Flask's test client (the real app, a real index on disk)."""

from __future__ import annotations

import html
import json
import re
from html import escape

import pytest

from web import create_app
from web.cli import main as cli_main

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def client(seeds_index):
    app = create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "TESTING": True})
    return app.test_client()


def test_page_has_search_box_results_facets_and_sort(client):
    page = client.get("/?q=facial+recognition+police&group=0")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'<input id="q" name="q" type="search" value="facial recognition police"[^>]*autofocus', html)
    total = client.get("/api/search?q=facial+recognition+police&group=0").get_json()["total"]
    assert total > 10 and f"<strong>{total}</strong> results" in html
    assert html.count('<li class="hit"') == 10
    assert "<mark>police</mark>" in html
    assert 'name="filter" value="provider:Reuters"' in html
    assert "<legend>Source</legend>" in html and "<legend>Topics</legend>" in html
    assert 'href="?q=facial+recognition+police&amp;sort=newest&amp;group=0"' in html
    assert 'aria-label="Pages"' in html and 'href="?q=facial+recognition+police&amp;group=0&amp;page=2"' in html
    assert 'role="search"' in html and "<main" in html and "<aside" in html


def test_filters_are_checkboxes_in_the_get_form_and_keep_state_in_the_url(client):
    html = client.get("/?q=police&filter=provider:Reuters").get_data(as_text=True)
    assert re.search(r'name="filter" value="provider:Reuters" checked', html)
    assert "Remove filter Source: Reuters" in html
    assert 'href="?q=police"' in html  # the chip removes the filter
    assert "<strong>2</strong> results" in html


def test_results_for_a_correction_say_so_and_did_you_mean_without_typos(client):
    page = client.get("/?q=facial+recogntion").get_data(as_text=True)
    shown = '<a href="?q=facial+recognition" data-nav><strong><bdi>facial recognition</bdi></strong></a>'
    assert f"Showing results for {shown}" in page
    instead = '<a href="?q=facial+recogntion&amp;typos=0" data-nav><bdi>facial recogntion</bdi></a>'
    assert f"Search instead for {instead}" in page
    exact = client.get("/?q=facial+recogntion&typos=0").get_data(as_text=True)
    assert "Showing results for" not in exact
    suggestion = '<a href="?q=facial+recognition&amp;typos=0" data-nav><bdi>facial recognition</bdi></a>'
    assert f"Did you mean {suggestion}?" in exact


def test_empty_state(client):
    empty = client.get("/?q=zzxxqqy").get_data(as_text=True)
    assert "No results for “<bdi>zzxxqqy</bdi>”" in empty and "fewer or more general words" in empty


def test_api_returns_the_same_object_as_the_cli(client, seeds_index):
    from click.testing import CliRunner

    api = client.get("/api/search?q=police&filter=kind:related&sort=relevance&limit=5&group=0").get_json()
    cli = json.loads(
        CliRunner()
        .invoke(
            cli_main,
            ["--index", str(seeds_index), "query", "--json", "police", "-f", "kind=related", "-n", "5", "--no-group"],
        )
        .output
    )
    for result in (api, cli):
        result.pop("took_ms")
    assert api == cli
    assert api["total"] > 5 and len(api["hits"]) == 5


def test_page_groups_a_story_under_its_best_item_and_links_all_of_it(client):
    api = client.get("/api/search?q=facial+recognition+police").get_json()
    top = max(api["hits"], key=lambda h: h["more"])  # the big story's card, wherever it ranks
    assert top["more"] >= 10 and len(top["more_items"]) == 5
    html = client.get("/?q=facial+recognition+police").get_data(as_text=True)
    assert html.count('<li class="hit"') == len(api["hits"])
    assert f"in {api['stories']} stories" in html
    assert f"<summary>+{top['more']} more matching items</summary>" in html
    for member in top["more_items"]:
        assert f'<a href="{escape(member["url"])}" rel="noopener noreferrer">' in html
    # the card says what the whole event holds: its sources and date span, and links all of it
    assert f'<span class="story-sources">{top["story_sources"]} sources</span>' in html
    assert '<span class="story-span">Jun 11 – 12, 2020</span>' in html
    link = re.search(rf'<a class="all" href="([^"]+)" data-nav>All {top["story_items"]} items of this story</a>', html)
    assert link
    # every item of it, as the link says: not only those holding the query's words or passing its filters
    assert "q=" not in link.group(1)
    # the unfolded list's last line leads to the same view, not plain text
    assert f'<li class="rest"><a href="{link.group(1)}" data-nav>and {top["more"] - 5} more</a></li>' in html
    story_page = client.get("/" + link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f"<strong>{top['story_items']}</strong> items" in story_page
    assert "Remove filter Story:" in story_page  # the story filter shows as a removable chip


def test_all_n_items_of_a_story_shows_n_items_when_only_some_hold_the_query(client):
    # "All 16 items of this story" kept the query's words: the story's view listed the 4 holding "ibm"
    api = client.get("/api/search?q=ibm").get_json()
    top = next(h for h in api["hits"] if h["story_items"] > h["more"] + 1 > 1)
    listing = client.get("/?q=ibm").get_data(as_text=True)
    label = f"All {top['story_items']} items of this story"
    link = re.search(rf'<a class="all" href="([^"]+)" data-nav>{label}</a>', listing)
    story_page = client.get("/" + html.unescape(link.group(1))).get_data(as_text=True)
    assert f"<strong>{top['story_items']}</strong> items" in story_page


def test_bad_group_parameter_is_explained(client):
    response = client.get("/api/search?q=police&group=maybe")
    assert response.status_code == 400 and "'group' must be 1 or 0" in response.get_json()["error"]


def test_page_and_api_agree_on_total_and_order(client):
    api = client.get("/api/search?q=amazon+police").get_json()
    html = client.get("/?q=amazon+police").get_data(as_text=True)
    urls = re.findall(r'<h2 class="title"><a href="([^"]+)"', html)
    assert urls == [h["url"].replace("&", "&amp;") for h in api["hits"]]
    assert f"<strong>{api['total']}</strong> results" in html


def test_results_fragment_is_the_results_region_only(client):
    fragment = client.get("/results?q=police").get_data(as_text=True)
    assert "<html" not in fragment and '<li class="hit"' in fragment


def test_user_text_is_escaped_everywhere(client):
    html = client.get("/", query_string={"q": XSS}).get_data(as_text=True)
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    bad = client.get("/", query_string={"q": XSS, "sort": XSS}).get_data(as_text=True)
    assert XSS not in bad and "&lt;script&gt;" in bad
    api = client.get("/api/search", query_string={"q": XSS})
    assert api.headers["Content-Type"] == "application/json"
    assert api.get_json()["query"] == XSS
    assert client.get("/api/search", query_string={"filter": f"provider:{XSS}"}).get_json()["total"] == 0


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline scripts"
    assert " style=" not in html and " on" + "click=" not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "'limit' must be between 1 and 100"),
        ("limit=1000000", "'limit' must be between 1 and 100"),
        ("page=-3", "'page' must be between 1 and 1000"),
        ("page=abc", "'page' must be a whole number"),
        ("sort=bogus", "'sort' must be one of"),
        ("filter=color:red", "cannot filter on 'color'"),
        ("filter=nocolon", "must look like FIELD=VALUE"),
    ],
)
def test_nonsense_parameters_get_a_friendly_400(client, query, message):
    api = client.get(f"/api/search?q=x&{query}")
    assert api.status_code == 400 and message in api.get_json()["error"]
    page = client.get(f"/?q=x&{query}")
    assert page.status_code == 400 and message in html.unescape(page.get_data(as_text=True))
    assert "Traceback" not in page.get_data(as_text=True)


def test_health_suggest_openapi_and_not_found(client):
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["documents"] == 53
    titles = client.get("/api/suggest?q=facial+recog").get_json()["suggestions"]
    assert titles and all("recogn" in t.lower() for t in titles)
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/search" in spec["paths"]
    assert client.get("/static/../../pyproject.toml").status_code == 404
    assert client.get("/static/%2e%2e/%2e%2e/pyproject.toml").status_code == 404
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.get_json()["status"] == 404


def test_no_index_is_a_clear_503(tmp_path):
    client = create_app({"INDEX_DIR": str(tmp_path / "none"), "ACCESS_LOG": False}).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "search-cli index" in health.get_json()["error"]  # the operator's hint
    api = client.get("/api/search?q=x")
    assert api.status_code == 503
    assert api.get_json()["error"] == "The search index is missing or being rebuilt; please try again in a minute."
    assert str(tmp_path) not in api.get_data(as_text=True)  # visitors are not told where the index lives
    assert client.get("/?q=x").status_code == 503


def test_unexpected_errors_never_show_a_traceback(seeds_index, monkeypatch):
    app = create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False})
    engine = app.extensions["search_engine"]

    def boom(request):
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(engine, "search", boom)
    client = app.test_client()
    for url in ("/?q=x", "/api/search?q=x"):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        assert "secret internal detail" not in body and "Traceback" not in body


REUTERS = (
    "https://www.reuters.com/article/us-microsoft-facial-recognition/"
    "microsoft-declines-to-sell-facial-recognition-tech-to-police-idUSKBN23I2T6"
)


def test_back_to_search_from_a_similar_page_returns_to_the_search_it_came_from(client):
    listing = client.get("/?q=police&filter=kind:related&sort=newest&group=0&page=2").get_data(as_text=True)
    similar = html.unescape(re.search(r'class="similar" href="([^"]+)"', listing).group(1))
    assert "back=q%3Dpolice%26filter%3Dkind%253Arelated%26sort%3Dnewest%26group%3D0%26page%3D2" in similar
    page = client.get(similar).get_data(as_text=True)
    back = html.unescape(re.search(r'<a href="([^"]*)">Back to search</a>', page).group(1))
    assert back == "/?q=police&filter=kind%3Arelated&sort=newest&group=0&page=2"
    # and from there on: a similar page's own "Similar" links keep the way back
    onward = html.unescape(re.search(r'class="similar" href="([^"]+)"', page).group(1))
    assert "back=q%3Dpolice%26filter" in onward


@pytest.mark.parametrize(
    ("back", "expected"),
    [
        ("javascript:alert(1)", "/"),  # no search in it
        ("q=javascript:alert(1)", "/?q=javascript%3Aalert%281%29"),  # a search for those words, on this site
        ('q="><script>x</script>', "/?q=%22%3E%3Cscript%3Ex%3C%2Fscript%3E"),
        ("page=abc", "/"),  # not a valid search: back to the start
        ("sort=sideways&q=x", "/"),
        ("", "/"),
        # longer than any link the page writes (the page drops it): cut at 2,048 it was another search, with no
        # filter or sort; now the start, as for any back= that is not one of the page's
        ("q=" + "%D0%B0" * 700 + "&filter=year:2020&sort=newest", "/"),
    ],
)
def test_back_to_search_links_only_a_search_read_again_from_the_link(client, back, expected):
    page = client.get("/similar", query_string={"url": REUTERS, "back": back}).get_data(as_text=True)
    assert "<script>x" not in page
    assert html.unescape(re.search(r'<a href="([^"]*)">Back to search</a>', page).group(1)) == expected


def test_a_similar_link_after_a_long_query_in_another_script_stays_a_link_a_server_takes(client):
    # its back= held the query encoded twice: 12 bytes a Cyrillic letter, 9,189 bytes, a 414 from gunicorn
    query = ("police " + "полиция " * 124)[:999]
    listing = client.get("/", query_string={"q": query}).get_data(as_text=True)
    links = [html.unescape(m) for m in re.findall(r'class="similar" href="([^"]+)"', listing)]
    assert links and all(len(link.encode()) <= 4_000 for link in links)
    assert client.get(links[0]).status_code == 200
    short = client.get("/?q=police").get_data(as_text=True)
    assert "back=q%3Dpolice" in html.unescape(re.search(r'class="similar" href="([^"]+)"', short).group(1))


def test_more_like_this_passes_over_words_common_in_any_english_text(client):
    """The item's own words choose its neighbours: "would", "there" and "said" (in its excerpt) say nothing of it."""
    terms = client.get("/api/similar", query_string={"url": REUTERS}).get_json()["terms"]
    assert {"polic", "facial", "declin", "sell"} <= set(terms)
    assert not {"would", "there", "said"} & set(terms)


def test_more_like_this_in_the_api_the_page_and_the_cli(client, seeds_index):
    from click.testing import CliRunner

    result = client.get("/api/similar", query_string={"url": REUTERS}).get_json()
    assert result["title"] == "Microsoft declines to sell facial recognition tech to police"
    keys = [h["key"] for h in result["hits"]]
    assert keys and "reuters.com/article/us-microsoft-facial-recognition/" not in keys[0]
    assert all("microsoft" in (h["title"] + h["excerpt"]).lower() for h in result["hits"][:5])
    assert all("police" in (h["title"] + h["excerpt"]).lower() for h in result["hits"][:5])
    assert client.get("/api/similar").status_code == 400
    assert client.get("/api/similar", query_string={"url": "https://nope.example/x"}).status_code == 404
    page = client.get("/similar", query_string={"url": REUTERS})
    assert page.status_code == 200 and page.get_data(as_text=True).count('<li class="hit"') == len(keys)
    listing = client.get("/?q=police").get_data(as_text=True)
    assert 'class="similar" href="/similar?url=https' in listing
    out = CliRunner().invoke(cli_main, ["--index", str(seeds_index), "similar", "--json", REUTERS])
    assert [h["key"] for h in json.loads(out.output)["hits"]] == keys
