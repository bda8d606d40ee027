"""The Whoosh defects we correct stay corrected (and are real: each fails without its fix)."""

from __future__ import annotations

from whoosh import query as wq
from whoosh.fields import ID, TEXT, Schema
from whoosh.filedb.filestore import RamStorage
from whoosh.matching.binary import AndNotMatcher

from indexer import whoosh_fixes


def excluded_first_ids() -> list[int]:
    ix = RamStorage().create_index(Schema(id=ID(stored=True), body=TEXT))
    with ix.writer() as w:
        w.add_document(id="0", body="microsoft")  # the excluded word's first doc comes first
        w.add_document(id="1", body="microsoft police")
        w.add_document(id="2", body="police")
    with ix.searcher() as s:
        q = wq.AndNot(wq.Term("body", "police"), wq.Term("body", "microsoft"))
        return sorted(s.docs_for_query(q))


def test_and_not_excludes_a_first_match_when_the_excluded_list_starts_earlier():
    assert excluded_first_ids() == [2]


def test_the_defect_is_real_without_the_fix():
    fixed = AndNotMatcher._find_first

    def upstream(self):
        if self.a.is_active() and self.b.is_active() and self.a.id() == self.b.id():
            self._find_next()

    AndNotMatcher._find_first = upstream
    try:
        assert excluded_first_ids() == [1, 2]
    finally:
        AndNotMatcher._find_first = fixed
    whoosh_fixes.apply()
    assert excluded_first_ids() == [2]


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


def test_field_length_totals_do_not_depend_on_merge_history():
    assert field_length_after(merge=True) == field_length_after(merge=False)
