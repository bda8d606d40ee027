"""The blind graded set: queries, judgments, the tuning/held-out split, and the engine's flat ranking.

``graded_queries.jsonl`` holds the queries (written before any system was run) with their type
and information need; ``graded_judgments.jsonl`` the 0/1/2 grades made blind from pool files.
The split is fixed by query id: a query is held out when the SHA-1 of its id is odd, so it never
depends on results, and adding queries never moves old ones between halves. A query written later
for a clean test (``"set": "fresh"``, ids ``f…``) is its own half, ``fresh``: every earlier ranking
change was made before it existed, so it is held out from all of them. Queries written later to
tune on (``"set": "tuning"``, ids ``t…``: the fresh half showed the older tuning queries miss a
kind of query) are all in the tuning half. The last sets, ``fresh2`` (``f141``-``f220``, then
``f221``-``f300``), were written after every decision the fresh set had informed (two variants
refused on ``f001``-``f080``, per-type gaps read on all of it): the first before the ninth round,
the second after its candidate was chosen on the tuning half and before any held-out result of
it. Confirmation sets, never tuned on (docs/relevance.md, ninth round). The tenth round's two
sets were written blind in parallel: ``f301``-``f380`` joined the tuning half (``"set": "tuning"``),
``f381``-``f460`` (less 16 that repeated the first) are ``fresh3``, run once to confirm the
round's one candidate (docs/relevance.md, tenth round). ``f461``-``f600`` (``fresh4``), written blind by
two writers in the eleventh round, measured the engine as it ships, once, with no change made first;
``f601``-``f700`` (``fresh5``, less 8 that repeated the other writer's), mostly names, then measured
entity queries, which fresh4 held too few of (docs/relevance.md, eleventh round). Name queries
``n001``-``n080`` were written from names a script drew from the collection (``eval/name_candidates.py``)
and split once by the SHA-1 of the id: odd last byte ``fresh6`` (names, run once), even ``tuning``.
``f701``-``f820`` (``fresh7``, less 2 that repeated the other writer's), written blind by two writers in
the twelfth round in the issue's mix (about half the names from a second drawn list), run once.
``f821``-``f940`` (``fresh8``), written blind by two writers in the fourteenth pass (a third drawn list),
kept unread until the fifteenth, which ran them once (eval/data/briefs/preregistration_round15.md).
``f941``-``f1120`` (``fresh9``, less 8 repeats), written blind by three writers in the sixteenth pass (a
fourth drawn list) and run once (eval/data/briefs/preregistration_round16.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from eval.build_sets import collection_folder
from indexer import build, embedder
from search.engine import SearchEngine
from search.request import build_request

DATA = Path(__file__).resolve().parent / "data"
TYPES = ("entity", "topical", "question", "typo")
HALVES = ("tuning", "held-out", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7", "fresh8", "fresh9")


def load_queries() -> list[dict]:
    """Every graded query, with its ``half`` ('tuning', 'held-out' or a fresh set)."""
    rows = [json.loads(line) for line in (DATA / "graded_queries.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row.get("set") in ("tuning", *HALVES[2:]):
            row["half"] = row["set"]
        else:
            row["half"] = "held-out" if hashlib.sha1(row["id"].encode()).digest()[-1] % 2 else "tuning"
    return rows


def load_judgments() -> dict[str, dict[str, int]]:
    """Query id -> {document key: grade}, merged over every judging round."""
    path = DATA / "graded_judgments.jsonl"
    judged: dict[str, dict[str, int]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            judged.setdefault(row["id"], {}).update({k: int(g) for k, g in row["grades"].items()})
    return judged


def scored(queries: list[dict], judged: dict[str, dict[str, int]]) -> list[dict]:
    """The queries some system found a relevant item for: as TREC does, the others are left out (they
    would score 0 for every system and only shrink the differences)."""
    return [q for q in queries if any(judged.get(q["id"], {}).values())]


def tuning_queries(judged: dict[str, dict[str, int]], kind: str | None = None) -> list[dict]:
    """The queries a ranking change is chosen on: the tuning half's scored ones (of one type, given ``kind``).

    Every tuning script selects through this, so none reads the held-out or fresh half.
    """
    return scored([q for q in load_queries() if q["half"] == "tuning" and kind in (None, q["type"])], judged)


# the items embedded for the semantic rule when its extra is installed (the engine as it ships with it);
# SEARCH_SEMANTIC_MODEL=none measures words alone
SEMANTIC = os.environ.get("SEARCH_SEMANTIC_MODEL") or ("default" if embedder.available() else "none")


def open_collection(semantic_model: str = SEMANTIC) -> tuple[SearchEngine, Path]:
    """The evaluation collection indexed in a temporary folder (remove ``folder.parent`` when done)."""
    folder = collection_folder()
    index = folder.parent / "index"
    build.full_build(folder, index, semantic_model=semantic_model)
    return SearchEngine(index, cache_entries=0), folder


def engine_rank(engine: SearchEngine, query: str, k: int = 10, **options) -> list[str]:
    """The engine's flat ranking (every item, not one per story)."""
    hits = engine.search(build_request(query[:1000], limit=k, group=False, **options))["hits"]
    return [h["key"] for h in hits]


def page_rank(engine: SearchEngine, query: str, k: int = 10) -> list[str]:
    """The grouped page as a reader sees it: each story's card, then the items shown under it."""
    keys: list[str] = []
    for hit in engine.search(build_request(query[:1000], limit=k))["hits"]:
        keys += [hit["key"], *(m["key"] for m in hit["more_items"])]
    return list(dict.fromkeys(keys))[:k]
