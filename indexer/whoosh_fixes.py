"""Corrections to Whoosh behaviour that this product depends on, applied once at import.

Each fix names the defect, is as small as possible, and has a regression test
(tests/test_whoosh_fixes.py) that fails without it.
"""

from __future__ import annotations

from whoosh.codec.whoosh3 import W3PerDocWriter
from whoosh.matching.binary import AndNotMatcher
from whoosh.util.numeric import byte_to_length, length_to_byte

_upstream_add_field = W3PerDocWriter.add_field


def _and_not_find_first(self: AndNotMatcher) -> None:
    # Upstream only looks for an excluded first document when both matchers start on the
    # same id. When the excluded list starts earlier ("police -microsoft": microsoft in doc 0,
    # police first in doc 1), doc 1 slipped through. _find_next already skips the excluded
    # list forward, so always let it run.
    if self.a.is_active() and self.b.is_active():
        self._find_next()


def _add_field_with_stored_length(self: W3PerDocWriter, fieldname, fieldobj, value, length) -> None:
    # Per-document lengths are stored quantized to one byte. A new document added its
    # exact length to the field total, a merged one its quantized length, so after an
    # incremental update + merge the average field length (and every BM25 score) differed
    # from a full build of the same documents. Counting the stored length everywhere makes
    # the statistics independent of the index's merge history (quantizing is idempotent).
    _upstream_add_field(self, fieldname, fieldobj, value, byte_to_length(length_to_byte(length)) if length else length)


def apply() -> None:
    """Install the fixes (idempotent)."""
    AndNotMatcher._find_first = _and_not_find_first  # type: ignore[method-assign]
    W3PerDocWriter.add_field = _add_field_with_stored_length  # type: ignore[method-assign]


apply()
