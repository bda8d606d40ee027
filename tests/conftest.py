"""Shared fixtures: real indexes on disk, built once per session from the bundled data."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer import build
from search.engine import SearchEngine
from search.ranking import POLICY
from search.request import build_request

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = FIXTURES / "corpus"
AI_CORPUS = CORPUS / "artificial-intelligence"
POWER_APPS = CORPUS / "microsoft-power-apps"
BROKEN = CORPUS / "broken"
# the policy before BM25F (docs/relevance.md, ninth round): each field's BM25 summed; tests that show
# a failure "as then" start from it
PER_FIELD_BM25 = dataclasses.replace(
    POLICY, saturation="field", k1=1.2, title_all_words_boost=1.5, exact_title_boost=4.0
)


def meaning_item(folder: Path, name: str, title: str, excerpt: str) -> None:
    """One seed file of the meaning tests (tests/test_semantic.py, tests/test_e5.py)."""
    (folder / f"2021-01-{name}.md").write_text(
        f'---\ntitle: "{title}"\nexcerpt: "{excerpt}"\nwebUrl: "https://x.org/{name}"\n'
        "publishedDateTime: 2021-01-02T03:04:05Z\nquality: 50\n---\n",
        encoding="utf-8",
    )


def meaning_seeds(folder: Path) -> None:
    """Nine items where "maps in Power Apps" is said otherwise ("geospatial") by one and in words by another."""
    folder.mkdir()
    for name, title, excerpt in (
        ("geo", "Power Apps gets geospatial features", "Show addresses and locations on a canvas"),
        ("pricing", "Power Apps gets cheaper pricing plans", "Licences now cost less for every business"),
        ("mobile", "Power Apps gets a faster mobile player", "Apps now start quicker on phones"),
        ("full", "Power Apps licence costs", "Contoso maps out what Power Apps plans cost"),
        *((f"filler{i}", f"Filler story {i}", "nothing to see in this one at all") for i in range(5)),
    ):
        meaning_item(folder, name, title, excerpt)


@contextlib.contextmanager
def waitress_server(app) -> Iterator[str]:
    """The real app on the real WSGI server (waitress), on a free loopback port; yields its URL."""
    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # closing the sockets from this thread races the loop's select() (EBADF in the server's
        # thread): the loop closes them itself, finds nothing left to watch and returns
        server.trigger.pull_trigger(lambda: [channel.close() for channel in list(server._map.values())])
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("seeds-index")
    build.full_build(SEEDS, index)
    return index


@pytest.fixture(scope="session")
def engine(seeds_index) -> SearchEngine:
    return SearchEngine(seeds_index)


@pytest.fixture(scope="session")
def ai_engine(tmp_path_factory) -> SearchEngine:
    index = tmp_path_factory.mktemp("ai-index")
    build.full_build(AI_CORPUS, index)
    return SearchEngine(index)


def copy_collection(folder: Path) -> Path:
    """The evaluation collection (seeds, AI news, Power Apps base, as eval/graded.py indexes it) in ``folder``."""
    shutil.copytree(SEEDS, folder / "seeds")
    shutil.copytree(AI_CORPUS, folder / "ai", ignore=shutil.ignore_patterns("SOURCE.md"))
    shutil.copytree(POWER_APPS / "base", folder / "power-apps")
    return folder


@pytest.fixture(scope="session")
def all_engine(tmp_path_factory) -> SearchEngine:
    """Every corpus indexed together (seeds, AI news, Power Apps base)."""
    folder = copy_collection(tmp_path_factory.mktemp("all-seeds"))
    index = tmp_path_factory.mktemp("all-index")
    build.full_build(folder, index)
    return SearchEngine(index)


def search(engine: SearchEngine, q: str = "", **kwargs) -> dict:
    """Run one request through the same path the CLI and the API use."""
    filters = kwargs.pop("filters", ())
    return engine.search(build_request(q, filters=filters, **kwargs))


def serve_config(monkeypatch, *cli_args: str) -> dict:
    """The config ``search-cli ... serve`` hands to the app factory (the server is never started)."""
    from click.testing import CliRunner

    import web
    from web.cli import main

    seen: dict = {}

    class Stop(Exception):
        pass

    def fake_create_app(config):
        seen.update(config)
        raise Stop

    monkeypatch.setattr(web, "create_app", fake_create_app)
    monkeypatch.setenv("SEARCH_WORKERS", "1")  # waitress: the app is made in this process
    result = CliRunner().invoke(main, list(cli_args))
    assert isinstance(result.exception, Stop), result.output
    return seen


@pytest.fixture(scope="module")
def seeds_app(seeds_index):
    """The real app over the seeds index (no analytics, no access log)."""
    from web import create_app

    return create_app({"INDEX_DIR": str(seeds_index), "ACCESS_LOG": False, "ANALYTICS": False, "TESTING": True})


@pytest.fixture(scope="module")
def seeds_client(seeds_app):
    """A test client of ``seeds_app``."""
    return seeds_app.test_client()
