"""Corrections to Whoosh's behaviour this product needs, as explicit calls (``install_fixes``).

Part of the storage adapter (``indexer.storage`` re-exports these names): like it, this module
names Whoosh internals. Each correction keeps the real upstream function beside it, and
tests/test_storage.py checks that each defect still exists upstream (it fails the day it is fixed).
"""

from __future__ import annotations

from io import BufferedReader, BytesIO, RawIOBase

from whoosh.codec.whoosh3 import W3PerDocWriter
from whoosh.filedb.structfile import BufferFile
from whoosh.matching.binary import AndNotMatcher
from whoosh.util.numeric import byte_to_length, length_to_byte

UPSTREAM_AND_NOT_FIND_FIRST = AndNotMatcher._find_first
UPSTREAM_ADD_FIELD = W3PerDocWriter.add_field
UPSTREAM_BUFFER_FILE_INIT = BufferFile.__init__


def _and_not_find_first(self: AndNotMatcher) -> None:
    # Upstream only looks for an excluded first document when both matchers start on the
    # same id. When the excluded list starts earlier ("police -microsoft": microsoft in doc 0,
    # police first in doc 1), doc 1 slipped through. _find_next already skips the excluded
    # list forward, so always let it run.
    if self.a.is_active() and self.b.is_active():
        self._find_next()


def _add_field_with_stored_length(self: W3PerDocWriter, fieldname, fieldobj, value, length) -> None:
    # Per-document lengths are stored quantized to one byte. A new document added its exact
    # length to the field total, a merged one its quantized length, so after an incremental
    # update + merge the average field length (and every BM25 score) differed from a full
    # build of the same documents. Counting the stored length everywhere makes the statistics
    # independent of the index's merge history (quantizing is idempotent).
    stored = byte_to_length(length_to_byte(length)) if length else length
    UPSTREAM_ADD_FIELD(self, fieldname, fieldobj, value, stored)


class _ViewReader(RawIOBase):
    """A raw read-only file over a memoryview: reads copy only what they return, never the whole view."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = max(0, min(len(buffer), len(self._view) - self._pos))
        buffer[:size] = self._view[self._pos : self._pos + size]
        self._pos += size
        return size

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos if whence == 0 else self._pos + pos if whence == 1 else len(self._view) + pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._view = memoryview(b"")
        super().close()


def _buffer_file_init(self: BufferFile, buf, name=None, onclose=None) -> None:
    # Upstream wraps the buffer in BytesIO, which copies a memoryview: every process that opened
    # an index held a private copy of its posting, term and stored-field files (170 MB at 100k
    # documents) instead of sharing the mapped compound file through the page cache.
    UPSTREAM_BUFFER_FILE_INIT(self, b"", name=name, onclose=onclose)
    self._buf = buf
    # buffered in C: pickle reads a posting block in many small pieces
    self.file = BufferedReader(_ViewReader(buf), 4096) if isinstance(buf, memoryview) else BytesIO(buf)


def install_fixes() -> None:
    """Install the corrections (idempotent); every index is opened or written after this."""
    AndNotMatcher._find_first = _and_not_find_first  # type: ignore[method-assign]
    W3PerDocWriter.add_field = _add_field_with_stored_length  # type: ignore[method-assign]
    BufferFile.__init__ = _buffer_file_init  # type: ignore[method-assign]
