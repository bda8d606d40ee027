"""The web UI in a real browser: Debian's Chromium driven by Playwright, app served by waitress."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
XSS = "<script>alert(1)</script>"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app(seeds_index, tmp_path_factory):
    from web import create_app

    analytics = tmp_path_factory.mktemp("analytics") / "analytics.sqlite3"
    return create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS_PATH": str(analytics)})


@pytest.fixture(scope="module")
def server(app):
    """The real app on the real WSGI server, on a free loopback port."""
    import waitress

    srv = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def count_text(pg) -> str:
    return pg.locator("#result-count").inner_text()


def test_real_wsgi_server_answers(server):
    from urllib.request import urlopen

    with urlopen(server + "/healthz") as response:
        assert response.status == 200
        assert response.headers["Server"] == "waitress"


def test_typing_updates_results_without_a_page_load(server, page):
    page.goto(server + "/")
    page.evaluate("window.__samePage = true")
    page.locator("#q").press_sequentially("police", delay=40)
    page.wait_for_function("() => /for “police”/.test(document.querySelector('#result-count')?.textContent || '')")
    assert page.evaluate("window.__samePage") is True  # no navigation happened
    assert re.search(r"\?q=police$", page.url)
    titles = page.locator(".hit .title").all_inner_texts()
    stories = json.loads(urlopen(server + "/api/search?q=police").read())["stories"]
    assert len(titles) == min(10, stories) and "police" in titles[0].lower()
    assert page.locator(".hit mark").first.inner_text().lower() == "police"


def test_more_sources_expand_in_place(server, page):
    page.goto(server + "/?q=facial+recognition+police")
    story = page.locator(".hit details.story").first
    member = story.locator("li a").first
    assert not member.is_visible()  # folded until asked for
    story.locator("summary").click()
    assert member.is_visible() and member.inner_text()
    assert re.fullmatch(r"\+\d+ more sources", story.locator("summary").inner_text().strip())


def test_ticking_a_facet_changes_counts_and_url_and_back_works(server, page):
    page.goto(server + "/?q=police")
    before = count_text(page)
    kind_before = page.locator("fieldset:has(legend:text('Kind')) .count").all_inner_texts()
    page.evaluate("window.__samePage = true")
    page.get_by_label(re.compile(r"^Reuters\s+\d+$")).check()
    page.wait_for_url(re.compile(r"filter=provider%3AReuters"))
    page.wait_for_function("() => /^2 results/.test(document.querySelector('#result-count').textContent.trim())")
    assert page.evaluate("window.__samePage") is True
    assert page.locator("fieldset:has(legend:text('Kind')) .count").all_inner_texts() != kind_before
    assert page.get_by_label(re.compile(r"^Reuters\s+\d+$")).is_checked()
    assert page.locator(".facets input[name=filter][value^='provider:']").count() > 2  # others stay selectable
    page.go_back()
    page.wait_for_url(re.compile(r"\?q=police$"))
    page.wait_for_function(f"() => document.querySelector('#result-count').textContent.trim() === {before.strip()!r}")


def test_the_page_works_without_javascript(server, browser):
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    pg.goto(server + "/")
    pg.fill("#q", "police")
    pg.press("#q", "Enter")
    pg.wait_for_url(re.compile(r"\?q=police"))
    assert "results for “police”" in count_text(pg)
    pg.get_by_label(re.compile(r"^Reuters\s+\d+$")).check()
    pg.get_by_role("button", name="Apply filters").click()
    pg.wait_for_url(re.compile(r"filter=provider%3AReuters"))
    assert count_text(pg).startswith("2 results")
    pg.get_by_role("link", name="Newest").click()
    pg.wait_for_url(re.compile(r"sort=newest"))
    assert "filter=provider%3AReuters" in pg.url
    context.close()


def test_an_xss_probe_renders_as_text(server, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + "/")
    page.locator("#q").fill(XSS)
    page.wait_for_function(
        "() => document.querySelector('.empty h2, #result-count') !== null && "
        "(document.querySelector('.empty h2')?.textContent || '').includes('alert(1)')"
    )
    assert XSS in page.locator(".empty h2").inner_text()
    page.goto(server + "/?q=" + XSS)
    assert XSS in page.locator(".empty h2").inner_text()
    assert page.locator("#q").input_value() == XSS
    assert XSS in page.title()
    assert dialogs == []


def test_coverage_chart_renders_and_a_bar_filters_to_its_period(server, page):
    page.goto(server + "/?q=microsoft")
    chart = page.locator(".timeline svg")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 30
    bars = page.locator(".timeline rect.bar")
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(bars.count())]
    assert bars.count() >= 1 and max(heights) == 64.0
    tallest = page.locator(".timeline a").nth(heights.index(max(heights)))
    label = tallest.get_attribute("aria-label")
    expected = int(re.search(r": (\d+) items?", label).group(1))
    page.evaluate("window.__samePage = true")
    tallest.click()
    page.wait_for_url(re.compile(r"filter=date%3A\d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d"))
    page.wait_for_function(
        "n => document.querySelector('#result-count strong')?.textContent.trim() === String(n)", arg=expected
    )
    assert page.evaluate("window.__samePage") is True  # filtered in place by the script
    assert page.locator(".timeline rect.bar.selected").count() == 1
    assert page.locator("link[rel=alternate][type='application/atom+xml']").count() == 1


def test_opening_a_result_is_counted_for_its_query(server, page, app):
    from search.analytics import report

    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())  # no network here
    page.goto(server + "/?q=facial+recognition+police")
    first = page.locator(".hit .title a").first
    url = first.get_attribute("href")
    with page.expect_request(lambda r: r.url.endswith("/api/events") and r.method == "POST") as sent:
        first.click()
    assert json.loads(sent.value.post_data)["url"] == url
    recorder = app.extensions["analytics"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        recorder.flush()
        top = {r["query"]: r for r in report(recorder.path, min_searches=1)["top_queries"]}
        if top.get("facial recognition police", {}).get("clicks"):
            break
        time.sleep(0.1)
    assert top["facial recognition police"]["clicks"] == 1 and top["facial recognition police"]["searches"] >= 1
