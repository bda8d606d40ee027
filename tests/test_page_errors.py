"""Error and edge pages: the page layout with the search box, the error in the main column, exact statuses."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from web import SECURITY_HEADERS, create_app

REUTERS = (
    "https://www.reuters.com/article/us-microsoft-facial-recognition/"
    "microsoft-declines-to-sell-facial-recognition-tech-to-police-idUSKBN23I2T6"
)


class Outline(HTMLParser):
    """Which elements hold which: enough to check landmarks, the form and the headings."""

    def __init__(self) -> None:
        super().__init__()
        self.void = {"input", "img", "br", "link", "meta", "hr", "source", "col", "area", "base", "wbr"}
        self.stack: list[str] = []
        self.h1: list[list[str]] = []  # the ancestors of each h1
        self.search_box: list[list[str]] = []
        self.landmarks_in_form = 0
        self.h1_text = ""
        self._main_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("header", "main", "aside", "footer", "nav") and "form" in self.stack:
            self.landmarks_in_form += 1
        if tag == "h1":
            self.h1.append(list(self.stack))
        if tag == "input" and attrs.get("id") == "q":
            self.search_box.append(list(self.stack))
        if tag not in self.void:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if "main" in self.stack:
            self._main_text.append(data)
        if "h1" in self.stack:
            self.h1_text = " ".join(f"{self.h1_text} {data}".split())

    @property
    def main_text(self) -> str:
        return " ".join(" ".join(self._main_text).split())


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    ("method", "path", "status", "heading", "sentence"),
    [
        ("get", "/nope", 404, "Page not found", "The requested URL was not found on the server."),
        ("get", "/similar", 400, "That request could not be understood", "'url' is required"),
        ("get", "/similar?url=https://nope.example/x", 404, "Page not found", "That item is not in the index."),
        ("get", "/?q=police&sort=bogus", 400, "That search could not run.", "'sort' must be one of"),
        ("get", "/?q=police&page=0", 400, "That search could not run.", "'page' must be between 1 and 1000"),
        ("post", "/", 405, "Method Not Allowed", "The method is not allowed for the requested URL."),
    ],
)
def test_error_pages_use_the_page_layout_with_the_search_box_and_keep_status_and_headers(
    seeds_client, method, path, status, heading, sentence
):
    response = getattr(seeds_client, method)(path)
    assert response.status_code == status
    assert {k: response.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert response.headers["Cache-Control"] == "no-store" and "ETag" not in response.headers
    html = response.get_data(as_text=True)
    page = outline(html)
    assert page.search_box == [["html", "body", "header", "form"]]  # the banner's search form, as on every page
    assert page.landmarks_in_form == 0
    assert len(page.h1) == 1 and "main" in page.h1[0]  # one h1, in the main column
    assert page.h1_text == heading and sentence in page.main_text
    assert "Traceback" not in html
    if status == 405:
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_an_unexpected_error_page_has_the_layout_and_only_a_reference(seeds_index, monkeypatch):
    app = create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False})

    def boom(request):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(app.extensions["search_engine"], "search", boom)
    response = app.test_client().get("/?q=anything", headers={"X-Request-ID": "ref-123"})
    assert response.status_code == 500 and response.headers["Cache-Control"] == "no-store"
    page = outline(response.get_data(as_text=True))
    assert page.search_box and page.h1_text == "Something went wrong"
    assert "(reference ref-123)" in page.main_text and "secret" not in page.main_text


def test_a_page_past_the_last_says_so_and_links_to_the_last_page(seeds_client):
    last = seeds_client.get("/api/search?group=0").get_json()["pages"]
    assert last > 1
    response = seeds_client.get(f"/?group=0&page={last + 2}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"<h2>There is no page {last + 2}</h2>" in html
    assert f'<a href="?group=0&amp;page={last}" data-nav>Go to the last page (page {last})</a>' in html
    assert '<li class="hit"' not in html and 'aria-label="Pages"' not in html
    assert f"There is no page {last}<" not in seeds_client.get(f"/?group=0&page={last}").get_data(as_text=True)


def test_the_similar_items_page_has_the_search_box_and_one_h1(seeds_client):
    response = seeds_client.get("/similar", query_string={"url": REUTERS})
    page = outline(response.get_data(as_text=True))
    assert response.status_code == 200
    assert page.search_box == [["html", "body", "header", "form"]] and page.landmarks_in_form == 0
    assert len(page.h1) == 1 and page.h1_text.startswith("Items similar to Microsoft declines to sell")


@pytest.mark.parametrize("path", ["/", "/?q=police", "/?q=zzxxqqy", "/?q=police&filter=provider:Reuters"])
def test_search_pages_have_one_h1_in_main_and_no_landmark_inside_the_form(seeds_client, path):
    page = outline(seeds_client.get(path).get_data(as_text=True))
    assert len(page.h1) == 1 and "main" in page.h1[0]
    assert page.landmarks_in_form == 0 and page.search_box == [["html", "body", "header", "form"]]


def test_facet_checkboxes_belong_to_the_search_form_from_outside_it(seeds_client):
    html = seeds_client.get("/?q=police").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox"[^>]*name="filter"[^>]*>', html)
    assert boxes and all('form="search-form"' in box for box in boxes)
    assert re.search(r'<button type="submit" form="search-form" class="apply no-js-only">Apply filters</button>', html)
