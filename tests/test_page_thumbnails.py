"""Result thumbnails: https images only, fixed size, lazy, no referrer, and a setting that turns them off."""

from __future__ import annotations

import re

import pytest

from tests.conftest import serve_config
from web import create_app
from web.pages import hit_view


def app_with(seeds_index, monkeypatch, env: str | None = None, **config):
    if env is None:
        monkeypatch.delenv("SEARCH_THUMBNAILS", raising=False)
    else:
        monkeypatch.setenv("SEARCH_THUMBNAILS", env)
    return create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False, **config})


def thumbs(app, path: str = "/") -> list[str]:
    return re.findall(r"<img class=\"thumb\"[^>]*>", app.test_client().get(path).get_data(as_text=True))


def test_hits_with_an_https_image_get_a_lazy_fixed_size_thumbnail_without_referrer(seeds_index, monkeypatch):
    app = app_with(seeds_index, monkeypatch)
    hits = app.test_client().get("/api/search").get_json()["hits"]
    images = [h["image"] for h in hits if h["image"]]
    tags = thumbs(app)
    assert len(tags) == len(images) >= 3  # the browse page: the best item of each story
    for tag, image in zip(tags, images, strict=True):
        src = re.search(r'src="([^"]+)"', tag).group(1).replace("&amp;", "&")
        assert src == image and src.startswith("https://")
        for attribute in ('alt=""', 'width="96"', 'height="64"', 'loading="lazy"', 'referrerpolicy="no-referrer"'):
            assert attribute in tag
        assert " style=" not in tag and " on" not in tag.replace(" onerror", " on")  # no inline style or handler


@pytest.mark.parametrize(
    ("image", "shown"),
    [
        ("https://img.example/a.jpg?x=1&y=2", True),
        ("HTTPS://img.example/a.jpg", True),
        ("http://img.example/a.jpg", False),  # never http: mixed content, and readable on the wire
        ("//img.example/a.jpg", False),
        ("javascript:alert(1)", False),
        ("data:image/png;base64,AAAA", False),
        ("https:///nohost.jpg", False),
        ("https://img.example/a b.jpg", False),
        ("https://img.example:99999/a.jpg", False),
        ("", False),
        (None, False),
    ],
)
def test_only_https_images_become_thumbnails(seeds_index, monkeypatch, image, shown):
    app = app_with(seeds_index, monkeypatch)
    hit = {"published": None, "highlight": {"title": [("t", False)], "excerpt": []}, "image": image}
    with app.test_request_context("/"):
        assert hit_view(hit)["thumb"] == (image if shown else None)


def test_a_hostile_image_url_is_escaped_in_the_attribute(seeds_index, monkeypatch):
    app = app_with(seeds_index, monkeypatch)
    hit = {
        "published": None,
        "highlight": {"title": [("t", False)], "excerpt": []},
        "image": 'https://x.example/"><script>',
    }
    with app.test_request_context("/"):
        html = app.jinja_env.from_string('{% from "_hit.html" import hit_item %}{{ hit_item(h) }}').render(
            h={**hit_view(hit), "url": "https://x.example/", "provider": "X", "kind": "article", "more": 0}
        )
    assert 'src="https://x.example/&#34;&gt;&lt;script&gt;"' in html and "<script>" not in html


@pytest.mark.parametrize(
    ("env", "config", "expected"), [(None, {}, True), ("off", {}, False), ("on", {"THUMBNAILS": False}, False)]
)
def test_the_setting_turns_thumbnails_off(seeds_index, monkeypatch, env, config, expected):
    app = app_with(seeds_index, monkeypatch, env, **config)
    assert app.config["THUMBNAILS"] is expected
    assert bool(thumbs(app)) is expected
    if not expected:  # the similar-items page too
        similar = app.test_client().get("/api/search?q=police").get_json()["hits"][0]["url"]
        assert thumbs(app_with(seeds_index, monkeypatch), f"/similar?url={similar}")  # it has some when on
        assert not thumbs(app, f"/similar?url={similar}")


@pytest.mark.parametrize(
    ("args", "env", "expected"), [([], None, True), (["--no-thumbnails"], None, False), ([], "off", False)]
)
def test_serve_passes_its_thumbnails_setting_to_the_app(seeds_index, monkeypatch, args, env, expected):
    if env is None:
        monkeypatch.delenv("SEARCH_THUMBNAILS", raising=False)
    else:
        monkeypatch.setenv("SEARCH_THUMBNAILS", env)
    seen = serve_config(monkeypatch, "--index", str(seeds_index), "serve", *args)
    assert seen["THUMBNAILS"] is expected


def test_the_csp_allows_https_images_only(seeds_index, monkeypatch):
    csp = app_with(seeds_index, monkeypatch).test_client().get("/").headers["Content-Security-Policy"]
    img = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img == "img-src 'self' data: https:"
