"""The bulk writer (full builds) against the per-document writer: same bytes, same answers, Whoosh opens it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.qparser import QueryParser

from indexer import analysis, build, bulk_build, bulk_segment, generations, incremental
from indexer.batch_analysis import FieldTerms, batchable
from indexer.derive import posting_tables, segment_table
from indexer.documents import build_documents
from indexer.schema import TEXT_FIELDS, build_schema, document_fields, restored_fields
from indexer.seeds import SeedFile, discover, iter_seed_files
from indexer.storage import Store
from search.engine import SearchEngine
from search.request import build_request
from tests.conftest import AI_CORPUS, POWER_APPS, copy_collection
from tests.test_documents import seed
from tests.test_persisted import assert_persisted_equal
from tests.test_update import assert_same_as_full_build, build_index, snapshot

EVAL_DATA = Path(__file__).resolve().parent.parent / "eval" / "data"
EVAL_SETS = ("graded_queries", "known_item", "typo", "hand", "story")
TRICKY_TEXTS = [
    "The the THE of a an",  # stop words only
    "won’t won't o'neil ’quoted’ l'été '",  # apostrophes inside and around words
    "İstanbul ǅemal STRASSE straße ﬁnance Ⅻ ²³ 東京 ١٢٣ snake_case __init__",  # case and script oddities
    "café cafe\u0301 naïve Æsir Øresund résumé",  # precomposed and combining accents
    "a " * 300 + "end",  # positions far from the start after many stop words
    "",
]


def full_build_with(writer: str, seeds: Path, index: Path, procs: int | None = None) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(bulk_build.WRITER_ENV, writer)
        if procs:
            # exactly `procs` processes, even where an earlier test left a thread running (build_procs then says 1)
            patch.setattr(build, "build_procs", lambda: procs)
            patch.setattr(build, "PARALLEL_WRITE_MIN_DOCS", 100)  # these small corpora in `procs` processes too
        build.full_build(seeds, index)


def documents_of(folder: Path) -> list:
    paths, _ = discover(folder)
    records = [r for item in iter_seed_files(folder, paths) if isinstance(item, SeedFile) for r in item.records]
    return build_documents(records)


def segment_files(index: Path) -> tuple[dict[str, bytes], list]:
    """Every file inside each segment's compound file (segment ids blanked), and each segment's counts."""
    ix = whoosh_index.open_dir(str(generations.current_generation(index)))
    files, counts = {}, []
    for number, segment in enumerate(ix._segments()):
        compound = segment.open_compound_file(ix.storage)
        for name in compound.list():
            files[f"{number}:{name.replace(segment.segment_id(), 'SEG')}"] = bytes(compound.open_file(name).read())
        counts.append((segment.doc_count_all(), dict(segment._fieldlengths)))
    return files, counts


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    """The evaluation collection: seeds, AI news, Power Apps base (as eval/graded.py indexes it)."""
    return copy_collection(tmp_path_factory.mktemp("bulk-collection"))


@pytest.fixture(scope="module")
def built(collection, tmp_path_factory) -> dict[str, Path]:
    """The collection built by each writer, in two processes (two segments each)."""
    indexes = {}
    for writer in ("document", "bulk"):
        indexes[writer] = tmp_path_factory.mktemp(f"collection-{writer}")
        full_build_with(writer, collection, indexes[writer], procs=2)
    return indexes


@pytest.mark.parametrize("corpus", [POWER_APPS / "base", AI_CORPUS], ids=["power-apps", "ai"])
def test_a_bulk_segment_is_byte_for_byte_the_per_document_writers(corpus, tmp_path):
    full_build_with("document", corpus, tmp_path / "document", procs=1)
    full_build_with("bulk", corpus, tmp_path / "bulk", procs=1)
    expected, expected_counts = segment_files(tmp_path / "document")
    written, counts = segment_files(tmp_path / "bulk")
    assert counts == expected_counts and counts[0][0] > 100
    assert sorted(written) == sorted(expected)
    for name, data in expected.items():
        assert written[name] == data, name  # postings, terms, stored fields, lengths, columns


def test_whooshs_own_reader_and_searcher_open_a_bulk_index(collection, built):
    docs = {d.key: d for d in documents_of(collection)}
    bulk = whoosh_index.open_dir(str(generations.current_generation(built["bulk"])))
    per_document = whoosh_index.open_dir(str(generations.current_generation(built["document"])))
    assert len(bulk._segments()) == 2  # one per worker process
    with bulk.searcher() as searcher, per_document.searcher() as reference:
        assert searcher.doc_count() == len(docs)
        stored = {fields["key"]: fields for fields in searcher.all_stored_fields()}
        assert stored == {fields["key"]: fields for fields in reference.all_stored_fields()}
        assert set(stored) == set(docs)
        for field in ("title", "excerpt", "vocabulary", "provider_text", "topics", "key", "published"):
            assert searcher.field_length(field) == reference.field_length(field), field
            assert list(searcher.lexicon(field)) == list(reference.lexicon(field)), field
        for text in ("power apps", '"power platform"', "facial recognition -police", "microsoft", "topics:AI"):
            for field in ("title", "excerpt"):
                query = QueryParser(field, bulk.schema).parse(text)
                found = {h["key"]: round(h.score, 9) for h in searcher.search(query, limit=None)}
                expected = {h["key"]: round(h.score, 9) for h in reference.search(query, limit=None)}
                assert found == expected and (found or field == "excerpt" or text.startswith("topics")), text


def test_a_bulk_index_answers_like_a_per_document_index(built):
    # every stored document and the 90 replay answers of tests/test_update.py
    assert snapshot(built["bulk"]) == snapshot(built["document"])
    assert_persisted_equal(built["bulk"], built["document"])
    # every query of the evaluation sets, flat and grouped
    bulk, per_document = SearchEngine(built["bulk"]), SearchEngine(built["document"])
    queries = [
        json.loads(line)["query"]
        for name in EVAL_SETS
        for line in (EVAL_DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(queries) > 400
    for query in queries:
        for group in (False, True):
            ours = bulk.search(build_request(query[:1000], limit=10, group=group))
            theirs = per_document.search(build_request(query[:1000], limit=10, group=group))
            for volatile in ("took_ms", "generation"):
                ours.pop(volatile), theirs.pop(volatile)
            assert ours == theirs, query


def test_batch_analysis_gives_the_analyzers_terms_and_positions(collection):
    """Every text field of every document: FieldTerms equals the field's analyzer run on the whole text."""
    schema = build_schema()
    docs = [document_fields(d) for d in documents_of(collection)]
    checked = 0
    for name in schema.names():
        field = schema[name]
        if not field.indexed or not batchable(field.analyzer):
            continue
        texts = [d.get(name) or "" for d in docs] + TRICKY_TEXTS
        analyzed = FieldTerms(field.analyzer)
        batch, terms = analyzed.analyze(texts), analyzed.terms
        got: list[list[tuple[str, int]]] = [[] for _ in texts]
        for doc, pos, term in zip(batch.docs.tolist(), batch.positions.tolist(), batch.terms.tolist(), strict=True):
            got[doc].append((terms[term], pos))
        for i, text in enumerate(texts):
            expected = [(t.text, t.pos) for t in field.analyzer(text, positions=True, mode="index")]
            assert got[i] == expected, (name, text)
            assert batch.lengths[i] == len(expected)
            checked += len(expected)
    assert checked > 40_000


def test_analyze_remembers_words_without_changing_terms(collection):
    analyzer = analysis.news_analyzer()
    for doc in documents_of(collection):
        for text in (doc.title, doc.excerpt, "The Won’t Can't CAFÉ's na\u00efve"):
            assert analysis.analyze(text) == [t.text for t in analyzer(text)], text


def test_the_writer_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv(bulk_build.WRITER_ENV, raising=False)
    assert bulk_build.bulk_writer_chosen()
    monkeypatch.setenv(bulk_build.WRITER_ENV, "document")
    assert not bulk_build.bulk_writer_chosen()
    monkeypatch.setenv(bulk_build.WRITER_ENV, "fast")
    with pytest.raises(ValueError, match="bulk"):
        bulk_build.bulk_writer_chosen()


def test_the_posting_tables_the_bulk_writer_hands_back_are_what_whoosh_reads(collection, tmp_path):
    """``write_index``'s tables (derive takes them) equal each segment's lists read back through Whoosh."""
    analysis.use_nltk()  # as full_build does
    gen = tmp_path / "gen"
    gen.mkdir()
    written = bulk_build.write_index(gen, documents_of(collection), 2)
    store = Store(gen)
    segments = store.segments()
    assert len(segments) == 2 and set(written) == {segment_id for segment_id, _ in segments}
    for position, (segment_id, _offset) in enumerate(segments):
        assert set(written[segment_id]) == set(TEXT_FIELDS)
        for field in TEXT_FIELDS:
            ours, theirs = written[segment_id][field], segment_table(store, position, field)
            assert len(theirs.ids) > 100 or field == "provider_text", field
            assert ours.terms.to_list() == theirs.terms.to_list(), field
            for name in ("starts", "ids", "tfs"):
                a, b = getattr(ours, name), getattr(theirs, name)
                assert a.dtype == b.dtype and np.array_equal(a, b), (field, name)
    # and what derive makes of them is what it makes of a reading back
    live = np.ones(store.doc_count, dtype=bool)
    given, read = posting_tables(store, live, written=written), posting_tables(store, live)
    for field in TEXT_FIELDS:
        assert given[field].terms.to_list() == read[field].terms.to_list()
        assert all(np.array_equal(getattr(given[field], n), getattr(read[field], n)) for n in ("starts", "ids", "tfs"))


def test_a_full_build_pauses_the_collector_in_its_writers_and_turns_it_back_on(collection, tmp_path, monkeypatch):
    """The cyclic collector is off while records are merged and segments written (~10% of a writer's CPU)."""
    import gc

    seen = []
    real = bulk_segment.write_segment

    def recording(*args, **kwargs):
        seen.append(gc.isenabled())  # in a forked writer: the state it inherited
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_segment, "write_segment", recording)
    assert gc.isenabled()
    full_build_with("bulk", collection, tmp_path / "ix", procs=1)  # one process: the writer runs here
    assert seen == [False]
    assert gc.isenabled()


def test_an_update_without_a_merge_writes_the_segment_and_table_of_contents_whooshs_writer_would(tmp_path, monkeypatch):
    """The bulk path of an update (no Whoosh writer) leaves the index files Whoosh's writer leaves, byte for byte."""
    from whoosh.codec.whoosh3 import W3Segment
    from whoosh.writing import SegmentWriter

    folder = tmp_path / "seeds"
    folder.mkdir()
    shared = ("Shared story", "https://r.org/shared")
    alpha = seed("Alpha article", "https://a.org/1", topics=("Cloud",), related=[shared])
    (folder / "2021-01-01-a.md").write_text(alpha)
    (folder / "2021-01-02-b.md").write_text(
        seed("Beta article", "https://b.org/1", topics=("AI",), related=[shared, ("Scoop", "https://r.org/beta-only")])
    )
    build_index(folder, tmp_path, 40)
    monkeypatch.setattr(W3Segment, "_random_id", classmethod(lambda cls: "fixedsegmentid00"))
    indexes = {}
    for way in ("whoosh", "bulk"):
        seeds, index = tmp_path / f"seeds-{way}", tmp_path / f"index-{way}"
        shutil.copytree(folder, seeds)
        shutil.copytree(tmp_path / "index", index)
        (seeds / "2021-01-02-b.md").write_text(
            seed("Beta article revised", "https://b.org/1", topics=("AI",), related=[("New one", "https://r.org/new")])
        )
        (seeds / "filler-0003.md").unlink()
        with pytest.MonkeyPatch.context() as patch:
            added = []
            if way == "whoosh":  # the writer every update used before
                patch.setattr(bulk_segment, "append_segment", lambda *a, **k: None)
            else:  # the full builds' writer setting does not reach updates (docs/design.md)
                patch.setenv(bulk_build.WRITER_ENV, "document")
            patch.setattr(SegmentWriter, "add_document", _counting(SegmentWriter.add_document, added))
            report = incremental.update(seeds, index)
        assert report.docs_updated and report.docs_removed and report.docs_added
        assert bool(added) == (way == "whoosh")
        indexes[way] = generations.current_generation(index)
    # but the empty lock file Whoosh's writer leaves (an update never copies it: the index's writer lock guards)
    files = {
        way: sorted(p.name for p in gen.iterdir() if p.is_file() and p.name != "MAIN_WRITELOCK")
        for way, gen in indexes.items()
    }
    assert files["bulk"] == files["whoosh"]
    assert sum(name.endswith(".toc") for name in files["bulk"]) == 1  # the superseded one is gone
    assert not (indexes["bulk"] / "MAIN.tmp").exists()
    # each file inside the segments' compound files (the compound's own directory lists them in another order)
    assert segment_files(tmp_path / "index-bulk") == segment_files(tmp_path / "index-whoosh")
    toc = next(name for name in files["bulk"] if name.endswith(".toc"))
    assert (indexes["bulk"] / toc).read_bytes() == (indexes["whoosh"] / toc).read_bytes()  # deletions included
    assert_persisted_equal(tmp_path / "index-bulk", tmp_path / "index-whoosh")
    assert_same_as_full_build(tmp_path / "seeds-bulk", tmp_path / "index-bulk", tmp_path)


def _counting(add_document, calls: list):
    def counted(self, **fields):
        calls.append(1)
        return add_document(self, **fields)

    return counted


def test_every_documents_add_document_arguments_come_back_from_its_stored_fields(collection, built):
    """What lets an update write a merged segment's documents anew (``restored_fields``), checked on every one."""
    expected = {doc.key: document_fields(doc) for doc in documents_of(collection)}
    store = Store(generations.current_generation(built["bulk"]))
    assert store.doc_count == len(expected) > 100
    for docnum in range(store.doc_count):
        stored = store.stored(docnum)
        assert restored_fields(stored) == expected[stored["key"]], stored["key"]
    stored = store.stored(0)
    assert restored_fields({**stored, "extra": "a field the table does not derive"}) is None
    assert restored_fields({**stored, "year": "1999"}) is None  # not what its date gives


def test_a_document_whose_fields_read_what_is_not_stored_is_not_restored(built, monkeypatch):
    """A field deriving its value from an attribute no stored field holds: the update lets Whoosh merge."""
    from indexer import schema

    stored = Store(generations.current_generation(built["bulk"])).stored(0)
    assert restored_fields(stored) is not None
    names = schema._stored_names()
    monkeypatch.setattr(schema, "_stored_names", lambda: names - {"image"})  # as if images were not stored
    assert restored_fields({k: v for k, v in stored.items() if k != "image"}) is None


def test_a_bulk_segment_refuses_a_boost_in_any_document(tmp_path):
    # Whoosh's writer would apply a "_boost" or "_title_boost" argument; the bulk writer has none
    schema = build_schema()
    storage_dir = tmp_path / "ix"
    storage_dir.mkdir()
    whoosh_index.create_in(str(storage_dir), schema)
    plain = {"key": "a.org/1", "title": "One"}
    for boost in ("_boost", "_title_boost"):
        with pytest.raises(ValueError, match=boost):
            bulk_segment.write_segment(storage_dir, schema, [plain, {**plain, boost: 2.0}], "s1", ())
    bulk_segment.write_segment(storage_dir, schema, [plain, {**plain, "_stored_title": "One!"}], "s2", ())
