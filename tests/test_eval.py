"""The evaluation metrics and judged sets are sound (the full evaluation runs on demand)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from eval.metrics import ndcg_at_k, recall_at_k, reciprocal_rank

DATA = Path(__file__).resolve().parent.parent / "eval" / "data"


def test_metrics_on_known_rankings():
    gains = {"a": 2.0, "b": 1.0}
    assert ndcg_at_k(["a", "b", "x"], gains) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "b", "a"], gains) < ndcg_at_k(["a", "x", "b"], gains) < 1.0
    assert ndcg_at_k(["x", "y"], gains) == 0.0
    assert reciprocal_rank(["x", "y", "a"], {"a"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], {"a"}) == 0.0
    assert recall_at_k(["a", "x"], {"a", "b"}) == 0.5


@pytest.mark.parametrize(("name", "minimum"), [("story", 50), ("known_item", 100), ("typo", 90)])
def test_judged_sets_are_well_formed(name, minimum):
    rows = [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= minimum
    assert all(row["query"].strip() for row in rows)
    if name == "story":
        assert all(len(row["relevant"]) >= 2 and not set(row["exclude"]) & set(row["relevant"]) for row in rows)
    else:
        assert all(row["expected"] for row in rows)


def test_the_fresh_queries_are_a_half_of_their_own_that_no_tuning_script_reads():
    """Queries written after the held-out half had been seen are scored apart and never tuned on."""
    from eval.graded import load_queries

    queries = load_queries()
    fresh = [q for q in queries if q["id"].startswith("f")]

    def half_of(number: int) -> str:  # fresh2-9: sets written after every earlier decision (eval.graded)
        if number > 820:
            return "fresh8" if number <= 940 else "fresh9"
        if number > 460:
            return "fresh4" if number <= 600 else "fresh5" if number <= 700 else "fresh7"
        return "fresh" if number <= 140 else "fresh2" if number <= 300 else "tuning" if number <= 380 else "fresh3"

    assert len(fresh) >= 40 and all(q["half"] == half_of(int(q["id"][1:])) for q in fresh)
    assert sum(q["half"] == "fresh2" for q in fresh) >= 80 and sum(q["half"] == "fresh3" for q in fresh) >= 60
    assert sum(q["half"] == "fresh4" for q in fresh) == 140 and sum(q["half"] == "fresh5" for q in fresh) == 92
    assert sum(q["half"] == "fresh7" for q in fresh) == 118 and sum(q["half"] == "fresh8" for q in fresh) == 120
    assert sum(q["half"] == "fresh9" for q in fresh) == 172
    names = [q for q in queries if q["id"].startswith("n")]  # split once by the id's SHA-1: odd held out
    assert len(names) >= 60 and all(q["type"] == "entity" for q in names)
    assert all(q["half"] == ("fresh6" if hashlib.sha1(q["id"].encode()).digest()[-1] % 2 else "tuning") for q in names)
    assert {q["half"] for q in queries if q["id"][0] not in "fn"} == {"tuning", "held-out"}
    later_tuning = [q for q in queries if q.get("set") == "tuning"]  # written to tune on: never held out
    assert len(later_tuning) >= 140 and all(q["half"] == "tuning" for q in later_tuning)
    assert all(q["id"][0] in "tn" or 301 <= int(q["id"][1:]) <= 380 for q in later_tuning)
    # where ranking changes are chosen
    for script in ("sweep.py", "compare.py", "ideal.py", "versus.py", "rerank.py", "hybrid.py"):
        assert "tuning_queries(judged" in (DATA.parent / script).read_text(encoding="utf-8")
    from eval.graded import load_judgments, tuning_queries

    judged = load_judgments()
    chosen_on = tuning_queries(judged)
    assert len(chosen_on) >= 100 and all(q["half"] == "tuning" and any(judged[q["id"]].values()) for q in chosen_on)
    assert {q["type"] for q in tuning_queries(judged, "topical")} == {"topical"}


def test_the_name_lists_the_writers_saw_are_the_ones_name_candidates_draws_from_the_collection():
    """docs/relevance.md says each list is reproduced by its command: the first, then the second skipping it."""
    from eval.name_candidates import SEED, collection_items, drawn

    first = (DATA / "briefs" / "name_candidates_n001.txt").read_text(encoding="utf-8").splitlines()
    second = (DATA / "briefs" / "name_candidates_f701.txt").read_text(encoding="utf-8").splitlines()
    items = collection_items()
    assert drawn(items, 300, SEED) == first
    assert drawn(items, 200, 20261204, frozenset(first)) == second
    assert not set(first) & set(second)


def test_versus_lists_the_relevant_items_a_baseline_ranks_higher_than_the_engine():
    from eval.versus import ranked_higher

    grades = {"a": 2, "b": 1, "c": 0, "d": 2}
    engine = ["c", "b", "a"]  # a at 3, b at 2, d not found
    baseline = ["a", "c", "b", "d"]  # a at 1 (higher), b at 3 (lower), d at 4 (engine lacks it), c not relevant
    assert ranked_higher(engine, baseline, grades) == [("a", 3), ("d", None)]
    assert ranked_higher(baseline, engine, grades) == [("b", 3)]


def test_queries_no_system_found_a_relevant_item_for_are_left_out_of_every_mean():
    """compare.py and versus.py score the queries eval/run.py scores: a query judged all 0 is left out."""
    from eval.graded import scored

    queries = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    judged = {"a": {"x": 0, "y": 1}, "b": {"x": 0}}  # c was never judged
    assert [q["id"] for q in scored(queries, judged)] == ["a"]
    assert "scored(" in (DATA.parent / "run.py").read_text(encoding="utf-8")
    for script in ("compare.py", "versus.py"):  # through tuning_queries, which scores (tested above)
        assert "tuning_queries(judged" in (DATA.parent / script).read_text(encoding="utf-8")


def test_a_subset_is_chosen_by_id_range_within_one_letter():
    from eval.subset import in_range

    assert [in_range(i, "f081", "f140") for i in ("f080", "f081", "f140", "f141", "t090")] == [
        False,
        True,
        True,
        False,
        False,
    ]
