"""One document per canonical URL, merged by the DESIGN.md precedence."""

from __future__ import annotations

from pathlib import Path

from indexer.documents import build_documents, group_by_key, merge_records
from indexer.seeds import discover, iter_seed_files
from indexer.text import canonical_url, clean_text


def seed(title: str, url: str, *, quality: int = 50, topics=("AI",), related: list[tuple[str, str]] = ()) -> str:
    lines = [
        "---",
        f'title: "{title}"',
        f'webUrl: "{url}"',
        "publishedDateTime: 2021-01-02T03:04:05Z",
        f"quality: {quality}",
        "provider:",
        "  name: Prov",
        "topics:",
        *[f"  - {t}" for t in topics],
    ]
    if related:
        lines.append("related:")
        for rtitle, rurl in related:
            lines += [f'  - title: "{rtitle}"', f'    webUrl: "{rurl}"', "    quality: 10"]
    return "\n".join([*lines, "---", ""])


def documents(folder: Path):
    paths, _ = discover(folder)
    return {d.key: d for d in build_documents(r for f in iter_seed_files(folder, paths) for r in f.records)}


def test_canonical_url_ignores_scheme_www_case_and_trailing_slash():
    variants = ["https://www.Example.com/News/a/", "http://example.com/News/a", "HTTPS://EXAMPLE.COM/News/a#x"]
    assert {canonical_url(u) for u in variants} == {"example.com/News/a"}
    assert canonical_url("https://example.com/a?id=1") != canonical_url("https://example.com/a?id=2")


def test_clean_text_decodes_entities_and_unifies_quotes():
    assert clean_text("won&#8217;t &#038; &apos;x&apos; \u201cq\u201d") == "won't & 'x' \"q\""
    assert clean_text("double &amp;#8217; encoded") == "double ' encoded"


def test_article_record_wins_over_related_mentions(tmp_path):
    (tmp_path / "2021-01-01-a.md").write_text(seed("Article A", "https://a.org/x", topics=("Cloud",)))
    (tmp_path / "2021-01-09-b.md").write_text(
        seed("Article B", "https://b.org/y", topics=("AI",), related=[("A as related", "https://www.a.org/x/")])
    )
    docs = documents(tmp_path)
    assert len(docs) == 2
    a = docs["a.org/x"]
    assert (a.kind, a.title, a.quality, a.topics) == ("article", "Article A", 50, ("Cloud",))
    assert a.sources == ("2021-01-01-a.md", "2021-01-09-b.md")
    assert a.parents == ("b.org/y",)


def test_between_related_mentions_the_file_that_sorts_last_wins_and_topics_merge(tmp_path):
    (tmp_path / "2021-01-01-a.md").write_text(
        seed("A", "https://a.org/1", topics=("Cloud",), related=[("Old title", "https://r.org/1")])
    )
    (tmp_path / "2021-02-01-b.md").write_text(
        seed("B", "https://b.org/1", topics=("AI",), related=[("New title", "https://r.org/1")])
    )
    r = documents(tmp_path)["r.org/1"]
    assert (r.kind, r.title) == ("related", "New title")
    assert r.topics == ("AI", "Cloud")  # it belongs to both stories
    assert r.parents == ("a.org/1", "b.org/1")


def test_a_single_mention_merges_as_several_would(tmp_path):
    # the one-record path of merge_records: a related item's topics sorted and distinct, its
    # parent kept, an article's own key never its parent
    (tmp_path / "2021-01-01-a.md").write_text(
        seed("A", "https://a.org/1", topics=("Cloud", "AI", "Cloud"), related=[("Only here", "https://r.org/1")])
    )
    docs = documents(tmp_path)
    r, a = docs["r.org/1"], docs["a.org/1"]
    assert (r.kind, r.topics, r.parents, r.sources) == ("related", ("AI", "Cloud"), ("a.org/1",), ("2021-01-01-a.md",))
    assert (a.kind, a.parents, a.sources) == ("article", (), ("2021-01-01-a.md",))
    assert a.topics == tuple(dict.fromkeys(a.topics))  # as the record states them (records.py drops repeats)


def test_the_one_mention_path_merges_every_record_as_the_general_path_does():
    # merge_records([r, r]) takes the general path (sorting, gathering) and must agree with the shortcut
    from tests.conftest import AI_CORPUS, POWER_APPS

    records = [
        r
        for folder in (AI_CORPUS, POWER_APPS / "base")
        for f in iter_seed_files(folder, discover(folder)[0])
        if hasattr(f, "records")  # a broken file (SOURCE.md) is a problem, not records
        for r in f.records
    ]
    assert len(records) > 1000
    assert all(merge_records([r]) == merge_records([r, r]) for r in records)


def test_a_full_build_leaves_merging_to_the_writers(tmp_path, monkeypatch):
    # the parent only groups records by URL: each forked writer merges its own range (in parallel)
    from indexer import build
    from indexer import documents as documents_module

    seeds_dir = tmp_path / "seeds"
    seeds_dir.mkdir()
    for i in range(3):
        (seeds_dir / f"2021-01-0{i + 1}-a.md").write_text(
            seed(f"T{i}", f"https://a.org/{i}", related=[("R", "https://r.org/1")])
        )
    merged: list[str] = []
    real_merge = documents_module.merge_records
    monkeypatch.setattr(documents_module, "merge_records", lambda records: merged.append("x") or real_merge(records))
    at_write: list[int] = []
    real_write = build.write_documents
    monkeypatch.setattr(build, "write_documents", lambda *a, **k: at_write.append(len(merged)) or real_write(*a, **k))
    report = build.full_build(seeds_dir, tmp_path / "index")
    assert at_write == [0] and len(merged) == report.documents == 4
    lazy = documents_module.MergedDocuments(
        r for f in iter_seed_files(seeds_dir, discover(seeds_dir)[0]) for r in f.records
    )
    merged.clear()
    assert [d.key for d in lazy[1:3]] == ["a.org/1", "a.org/2"] and len(merged) == 2  # a range merges only itself
    assert lazy[:] == build_documents(r for f in iter_seed_files(seeds_dir, discover(seeds_dir)[0]) for r in f.records)
    groups = group_by_key(r for f in iter_seed_files(seeds_dir, discover(seeds_dir)[0]) for r in f.records)
    assert lazy[:] == [merge_records(groups[key]) for key in sorted(groups)]  # by key, each URL merged alone
