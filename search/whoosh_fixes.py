"""Corrections to Whoosh behaviour that this product depends on, applied once at import.

Each fix names the defect, is as small as possible, and has a regression test
(tests/test_whoosh_fixes.py) that fails without it.
"""

from __future__ import annotations

from whoosh.matching.binary import AndNotMatcher


def _and_not_find_first(self: AndNotMatcher) -> None:
    # Upstream only looks for an excluded first document when both matchers start on the
    # same id. When the excluded list starts earlier ("police -microsoft": microsoft in doc 0,
    # police first in doc 1), doc 1 slipped through. _find_next already skips the excluded
    # list forward, so always let it run.
    if self.a.is_active() and self.b.is_active():
        self._find_next()


def apply() -> None:
    """Install the fixes (idempotent)."""
    AndNotMatcher._find_first = _and_not_find_first  # type: ignore[method-assign]


apply()
