"""The storage adapter reads what Whoosh wrote, scores as Whoosh would, and its corrections stay needed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import whoosh
from whoosh import query as wq
from whoosh import scoring
from whoosh.fields import ID, TEXT, Schema
from whoosh.filedb.filestore import RamStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.matching.binary import AndNotMatcher

from indexer import storage
from indexer.derive import derive
from search.livestats import LiveStats
from search.ranking import POLICY
from search.scorer import ScoringData
from tests.conftest import PER_FIELD_BM25


def test_the_pinned_whoosh_is_checked_at_import(monkeypatch):
    storage.check_whoosh()
    monkeypatch.setattr(whoosh, "__version__", (3, 55, 0))
    with pytest.raises(storage.StorageMismatch, match=r"whoosh3 3\.54\.0"):
        storage.check_whoosh()


def test_numpy_bm25_equals_whoosh_bm25f_on_real_postings(seeds_index):
    """With Whoosh's idf (each field's own), the adapter's arrays and the policy's formula give Whoosh's own scores."""
    store = storage.Store(next(p for p in seeds_index.iterdir() if p.name.startswith("gen-")))
    policy = dataclasses.replace(PER_FIELD_BM25, idf_formula="whoosh", idf_fields="field")
    derived = derive(store)
    stats = LiveStats(derived.live_count, derived.field_lengths, derived)
    scoring_data = ScoringData(store, derived.doc_count, derived.live, derived.lengths, stats, policy, derived.postings)
    weighting = scoring.BM25F(K1=policy.k1, **{f"{f}_B": b for f, b in policy.b.items()})
    compared = 0
    with store.index.searcher(weighting=weighting) as searcher:
        for field, term in (("title", "polic"), ("excerpt", "facial"), ("excerpt", "recognit"), ("title", "amazon")):
            ids, tf = scoring_data.postings(field, term)
            ours = scoring_data.bm25(field, term, ids, tf)
            scorer = weighting.scorer(searcher, field, term)
            matcher = searcher.postings(field, term)
            theirs = {}
            while matcher.is_active():
                theirs[matcher.id()] = scorer.score(matcher)
                matcher.next()
            assert sorted(theirs) == ids.tolist()
            np.testing.assert_allclose(ours, [theirs[i] for i in ids.tolist()], rtol=1e-9, atol=0)
            compared += len(ids)
    assert compared > 20
    # one idf per word (idf_fields "max"): every field's from the word's largest document frequency
    blended = ScoringData(store, derived.doc_count, derived.live, derived.lengths, stats, POLICY, derived.postings)
    for term in ("polic", "facial", "amazon"):
        largest = max(len(scoring_data.postings(f, term)[0]) for f, boost in POLICY.boosts.items() if boost)
        expected = POLICY.idf(stats.doc_count, largest)
        assert {blended.idf(f, term) for f in POLICY.boosts} == {expected}
        assert scoring_data.idf("title", term) != scoring_data.idf("excerpt", term)  # each field's own differ


def excluded_first_ids() -> list[int]:
    ix = RamStorage().create_index(Schema(id=ID(stored=True), body=TEXT))
    with ix.writer() as w:
        w.add_document(id="0", body="microsoft")  # the excluded word's first doc comes first
        w.add_document(id="1", body="microsoft police")
        w.add_document(id="2", body="police")
    with ix.searcher() as s:
        return sorted(s.docs_for_query(wq.AndNot(wq.Term("body", "police"), wq.Term("body", "microsoft"))))


def field_length_after(merge: bool) -> int:
    """Total 'body' length of the same two documents, written fresh or via a merge."""
    ix = RamStorage().create_index(Schema(id=ID(stored=True, unique=True), body=TEXT))
    long_text = " ".join(f"w{i}" for i in range(37))  # 37 is not exactly representable in one byte
    with ix.writer() as w:
        w.add_document(id="a", body=long_text)
        w.add_document(id="b", body="short text")
    if merge:
        with ix.writer() as w:
            w.add_document(id="c", body="temporary")
        w = ix.writer()
        w.delete_by_term("id", "c")
        w.commit(optimize=True)
    with ix.reader() as r:
        return r.field_length("body")


@pytest.fixture()
def upstream(monkeypatch):
    """Whoosh as released: the real upstream functions, saved by the adapter before it corrects them."""
    monkeypatch.setattr(AndNotMatcher, "_find_first", storage.UPSTREAM_AND_NOT_FIND_FIRST)
    monkeypatch.setattr(storage.W3PerDocWriter, "add_field", storage.UPSTREAM_ADD_FIELD)
    monkeypatch.setattr(BufferFile, "__init__", storage.UPSTREAM_BUFFER_FILE_INIT)


def reads_its_source() -> bool:
    """Whether a BufferFile over a memoryview (a compound segment's mapped sub-file) reads it, or a private copy."""
    source = bytearray(b"old bytes")
    opened = BufferFile(memoryview(source), name="sub-file")
    source[:3] = b"new"  # a copy would not see this
    seen = opened.file.read(3)
    opened.close()
    return seen == b"new"


def test_upstream_and_not_still_lets_an_excluded_first_match_through(upstream):
    """Fails the day Whoosh fixes it: then drop _and_not_find_first from install_fixes."""
    assert excluded_first_ids() == [1, 2]


def test_upstream_field_lengths_still_depend_on_merge_history(upstream):
    """Fails the day Whoosh fixes it: then drop _add_field_with_stored_length from install_fixes."""
    assert field_length_after(merge=True) != field_length_after(merge=False)


def test_upstream_buffer_files_still_copy_the_mapped_segment(upstream):
    """Fails the day Whoosh stops copying: then drop _buffer_file_init from install_fixes."""
    assert not reads_its_source()


def test_the_installed_corrections_fix_them():
    storage.install_fixes()
    assert reads_its_source()
    assert excluded_first_ids() == [2]
    assert field_length_after(merge=True) == field_length_after(merge=False)


def test_words_read_segment_by_segment_equal_whoosh_multi_segment_reader(tmp_path):
    from indexer import generations
    from tests.test_persisted import index_of_several_segments

    index = index_of_several_segments(tmp_path)
    store = storage.Store(generations.current_generation(index))
    assert len(store.segments()) >= 3
    for field in ("vocabulary", "title", "topics", "key"):
        theirs = [(term.decode("utf-8"), info.doc_frequency()) for term, info in store.reader.iter_field(field)]
        assert list(store.words(field)) == theirs, field


def test_a_segments_lists_in_one_piece_hold_every_posting_its_terms_count_deleted_ones_included(tmp_path):
    from indexer import generations
    from tests.test_persisted import index_of_several_segments

    index = index_of_several_segments(tmp_path)  # replaced versions in the first segment
    store = storage.Store(generations.current_generation(index))
    deleted = store.deleted()
    assert len(deleted)
    for position, (_segment, offset) in enumerate(store.segments()):
        sub = store._leaves()[position][0]
        for field in ("title", "excerpt", "topics"):
            terms, counts, ids, weights = store.segment_lists(position, field)
            infos = list(sub.iter_field(field))
            assert terms == [term.decode("utf-8") for term, _ in infos]
            assert counts == [info.doc_frequency() for _, info in infos]  # deleted documents' postings too
            starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
            for i, (term, one_by_one, tfs) in enumerate(store.segment_postings(position, field)):
                mine, mine_tfs = ids[starts[i] : starts[i + 1]], weights[starts[i] : starts[i + 1]]
                live = ~np.isin(mine + offset, deleted)
                theirs = ~np.isin(one_by_one + offset, deleted)
                assert mine[live].tolist() == one_by_one[theirs].tolist(), (field, term)
                assert mine_tfs[live].tolist() == tfs[theirs].tolist(), (field, term)
