"""Parsed seed files kept beside the index, so a full rebuild parses only the files that changed.

Parsing YAML is the larger part of reading a seed folder (PyYAML's C loader: ~1-2 ms of CPU per
file; 20,000 files: ~25 s of CPU). A file's records depend only on its path, its bytes and the
parsing code, so a full build stores each parsed file under (path, content hash) in one file,
``index/records.cache``, and the next full build takes every file whose bytes hash the same from
it. What keeps a stale or damaged entry from being used:

- the parser version (``parser_version``: a hash of the parsing modules' source and of PyYAML's
  version and loader) is part of the file: another version is an empty cache;
- a file's entry is found by its path and the SHA-256 of its current bytes (the manifest's hash):
  an edited file misses;
- each entry carries a BLAKE2 digest of its bytes, checked before they are unpickled; an entry
  that fails the check, does not unpickle or is not the file it names is a miss, and so is the
  whole cache when the file cannot be read. A miss is parsed as if there were no cache.

The cache is written by full builds only, in pickle, like Whoosh's own table of contents and
stored fields: whoever can write the index directory decides what the index holds anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from . import records, seeds, text, textfiles

CACHE_NAME = "records.cache"
_MAGIC = b"search-engine record cache 1\n"
# the code a file's records depend on: reading, decoding, YAML, validation, URL and text cleaning
_PARSER_MODULES = (seeds, records, textfiles, text)

Key = tuple[str, str]  # (path relative to the seed folder, SHA-256 of its bytes)


@functools.cache
def parser_version() -> str:
    """A hash of what turns a file's bytes into records: a change empties the cache by itself."""
    digest = hashlib.blake2b(digest_size=16)
    for module in _PARSER_MODULES:
        digest.update(Path(module.__file__ or "").read_bytes())
    loader = seeds._BaseLoader
    digest.update(f"{yaml.__version__}|{loader.__module__}.{loader.__name__}|{sys.version_info[:2]}".encode())
    return digest.hexdigest()


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


class RecordCache:
    """The parsed files of the last full build: (path, hash) -> the digest and pickle of its records."""

    def __init__(self, entries: Mapping[Key, tuple[bytes, bytes]] | None = None) -> None:
        self.entries: dict[Key, tuple[bytes, bytes]] = dict(entries or {})

    @classmethod
    def load(cls, index_dir: Path) -> RecordCache:
        """The cache beside ``index_dir``'s generations; empty when missing, unreadable or of another parser."""
        try:
            data = (index_dir / CACHE_NAME).read_bytes()
            if not data.startswith(_MAGIC):
                return cls()
            version, entries = pickle.loads(data[len(_MAGIC) :])
            if version != parser_version() or not isinstance(entries, dict):
                return cls()
            return cls(entries)
        except Exception:  # noqa: BLE001 - a damaged cache is no cache; every file is parsed instead
            return cls()

    def keys(self) -> frozenset[Key]:
        return frozenset(self.entries)

    def get(self, rel: str, sha256: str) -> seeds.SeedFile | None:
        """The parsed file, or None when it is not here or its entry is damaged."""
        entry = self.entries.get((rel, sha256))
        if entry is None:
            return None
        try:
            digest, payload = entry
            if _digest(payload) != digest:
                return None
            found, warnings = pickle.loads(payload)
            if not isinstance(warnings, list) or not all(isinstance(r, records.Record) for r in found):
                return None
            return seeds.SeedFile(path=rel, sha256=sha256, records=list(found), warnings=list(warnings))
        except Exception:  # noqa: BLE001 - a damaged entry is a miss
            return None

    def save(self, index_dir: Path, files: Mapping[str, seeds.SeedFile]) -> None:
        """Write the cache of ``files`` (the last build's), reusing the entries that were hits."""
        entries: dict[Key, tuple[bytes, bytes]] = {}
        for rel, seed in files.items():
            key = (rel, seed.sha256)
            entry = self.entries.get(key)
            if entry is None:
                # a file parsed in a worker arrived pickled so: those bytes are the entry
                payload = seed.payload()
                entry = (_digest(payload), payload)
            entries[key] = entry
        if entries == self.entries:
            return  # nothing changed since the cache was written
        tmp = index_dir / (CACHE_NAME + ".tmp")
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                out.write(_MAGIC)
                pickle.dump((parser_version(), entries), out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, index_dir / CACHE_NAME)
        except OSError:  # a full disk or a read-only folder: the build goes on, the next one parses again
            tmp.unlink(missing_ok=True)
            return
        self.entries = entries


def drop_pickles(files: Iterable[seeds.SeedFile]) -> None:
    """Let go of the pickles the parsing workers sent (``SeedFile.pickled``) once the cache holds them.

    They lie between the records in the heap, so freeing them leaves holes that the heap keeps:
    glibc's ``malloc_trim`` hands those pages back (a cold 100k build: the parent's peak 817 -> 777 MiB,
    the forked writers' 933 -> 885). Elsewhere the memory merely stays with the process.
    """
    for seed in files:
        seed.pickled = None
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)
