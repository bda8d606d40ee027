"""The Whoosh defects we correct stay corrected (and are real: each fails without its fix)."""

from __future__ import annotations

from whoosh import query as wq
from whoosh.fields import ID, TEXT, Schema
from whoosh.filedb.filestore import RamStorage
from whoosh.matching.binary import AndNotMatcher

from search import whoosh_fixes


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
