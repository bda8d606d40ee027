"""Reading seed files: Jekyll front matter -> validated item records, or a clear per-file error."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .records import Record, record, type_name
from .textfiles import SEED_SUFFIXES as SEED_SUFFIXES
from .textfiles import SeedFileError as SeedFileError
from .textfiles import SeedProblem as SeedProblem
from .textfiles import decode_text, read_regular_file
from .textfiles import discover as discover

try:  # the C loader is ~10x faster; fall back to pure Python where libyaml is missing
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _BaseLoader = yaml.SafeLoader

MAX_FILE_BYTES = 4 * 1024 * 1024
PARALLEL_READ_MIN_FILES = 500  # below this, starting worker processes costs more than it saves
MAX_ALIASES = 20  # real seed files use none; expansion attacks need many
_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
# scalar tags whose value PyYAML's safe constructor makes from the scalar alone (no other node involved)
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp"))


@dataclass
class SeedFile:
    """A successfully read seed file: its content hash, its records and any dropped parts."""

    path: str
    sha256: str
    records: list[Record]
    warnings: list[str] = field(default_factory=list)
    # (records, warnings) pickled, when this file came from another process that way: the record
    # cache stores exactly these bytes, so the build's parent need not pickle every record again
    pickled: bytes | None = field(default=None, repr=False, compare=False)

    def __reduce__(self) -> tuple:
        return _unpickle_seed_file, (self.path, self.sha256, self.payload())

    def payload(self) -> bytes:
        """(records, warnings) pickled: the bytes this file arrived as from a worker, else pickled now."""
        return self.pickled or pickle.dumps((self.records, self.warnings), protocol=pickle.HIGHEST_PROTOCOL)


def _unpickle_seed_file(path: str, sha256: str, pickled: bytes) -> SeedFile:
    records, warnings = pickle.loads(pickled)
    return SeedFile(path, sha256, records, warnings, pickled)


class _NotPlain(Exception):
    """A node ``_StrictLoader._plain`` leaves to PyYAML's constructor."""


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that rejects duplicate keys and alias floods (billion-laughs)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._tree = "*" not in stream  # no alias: every node occurs once, so the nodes form a tree

    def construct_document(self, node: Any) -> Any:
        # PyYAML's constructor spends ~half of a load in per-node bookkeeping (alias tables, generators
        # for nested collections) that a tree of plain maps, lists and scalars does not need; such a
        # document is built by _plain, anything else (and any error, raised in PyYAML's order) by PyYAML
        if self._tree:
            try:
                return self._plain(node)
            except Exception:  # noqa: BLE001 - not plain, or an error PyYAML must report itself
                pass
        return super().construct_document(node)

    def _plain(self, node: Any) -> Any:
        """The value PyYAML gives a node of plain maps (string keys, once each), lists and scalars."""
        kind, tag = type(node), node.tag
        if kind is ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _SCALAR_TAGS:
                return self.yaml_constructors[tag](self, node)
        elif kind is MappingNode and tag == _MAP:
            mapping = {}
            for key_node, value in node.value:
                if type(key_node) is not ScalarNode or key_node.tag != _STR:
                    raise _NotPlain
                # most values are text: taken here rather than in a call each
                is_text = type(value) is ScalarNode and value.tag == _STR
                mapping[key_node.value] = value.value if is_text else self._plain(value)
            if len(mapping) == len(node.value):  # else a key repeats: PyYAML's path names it
                return mapping
        elif kind is SequenceNode and tag == _SEQ:
            return [self._plain(item) for item in node.value]
        raise _NotPlain

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # a node seen again is an alias; the C composer offers no other hook to count them
        if node in self.constructed_objects:
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise SeedFileError(f"YAML uses more than {MAX_ALIASES} aliases; refusing to expand it")
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                line = key_node.start_mark.line + 2  # +1 for 1-based, +1 for the opening '---'
                raise SeedFileError(f"duplicate key {key_node.value!r} at line {line}")
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


# ---------------------------------------------------------------------------
# Files


def file_hash(data: bytes) -> str:
    """Content hash used to detect changed files."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Parsing


def split_front_matter(text: str) -> str:
    """The YAML between the opening and closing ``---`` lines."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise SeedFileError("no front matter: the file must start with a '---' line")
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "\n".join(lines[1:i])
    reason = "front matter is not closed: no second '---' line (file truncated?)"
    try:  # a truncated file is often corrupted further up too: say so in the same message
        parse_yaml("\n".join(lines[1:]))
    except SeedFileError as exc:
        reason += f"; also {exc}"
    raise SeedFileError(reason)


def parse_yaml(block: str) -> Any:
    """Parse one YAML document safely, turning parser errors into one-line reasons."""
    loader = _StrictLoader(block)
    try:
        return loader.get_single_data()
    except SeedFileError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 2}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise SeedFileError(f"invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise SeedFileError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise SeedFileError("YAML nests too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's constructors raise these for impossible values, e.g. a timestamp in month 13
        raise SeedFileError(f"invalid value in YAML: {exc}") from None
    except AttributeError:  # PyYAML's timestamp constructor on text that is none ("!!timestamp 'junk'")
        raise SeedFileError("invalid value in YAML: a value tagged !!timestamp that is not a date-time") from None
    finally:
        loader.dispose()


def read_seed_file(root: Path, rel: str) -> SeedFile:
    """Read, parse and validate one seed file; raise SeedFileError with a reason on failure."""
    return parse_seed_bytes(rel, read_regular_file(root / rel, MAX_FILE_BYTES))


def parse_seed_bytes(rel: str, data: bytes) -> SeedFile:
    """Parse the bytes of a seed file named ``rel`` (pure: no file system access)."""
    if not data.strip():
        raise SeedFileError("file is empty")
    front = parse_yaml(split_front_matter(decode_text(data)))
    if not isinstance(front, dict):
        raise SeedFileError(f"front matter must be a mapping of fields, got {type_name(front)}")
    warnings: list[str] = []
    article = record(front, rel, kind="article", parent=None, topics=None, notes=warnings)
    records = [article]
    related = front.get("related")
    if related is not None and not isinstance(related, list):
        warnings.append(f"field 'related' must be a list, got {type_name(related)}; ignored")
        related = []
    for i, entry in enumerate(related or [], start=1):
        try:
            if not isinstance(entry, dict):
                raise SeedFileError(f"must be a mapping, got {type_name(entry)}")
            notes: list[str] = []
            records.append(record(entry, rel, kind="related", parent=article.key, topics=article.topics, notes=notes))
            warnings.extend(f"related item {i}: {note}" for note in notes)
        except SeedFileError as exc:
            warnings.append(f"related item {i} skipped: {exc}")
    return SeedFile(path=rel, sha256=file_hash(data), records=records, warnings=warnings)


@dataclass(frozen=True)
class Known:
    """A file whose bytes hash to an entry the caller already holds (``iter_seed_files``'s ``known``)."""

    path: str
    sha256: str


def read_or_report(root: Path, rel: str, known: Container[tuple[str, str]] = ()) -> SeedFile | SeedProblem | Known:
    """The parsed file, or the problem that stopped it, or Known when (rel, hash) is in ``known``: never raises."""
    try:
        if known:
            data = read_regular_file(root / rel, MAX_FILE_BYTES)
            sha256 = file_hash(data)
            if (rel, sha256) in known:
                return Known(rel, sha256)
            return parse_seed_bytes(rel, data)
        return read_seed_file(root, rel)
    except SeedFileError as exc:
        return SeedProblem(rel, str(exc))
    except Exception as exc:  # noqa: BLE001 - one file must never stop the run
        return SeedProblem(rel, f"unexpected error while reading ({type(exc).__name__}: {exc})")


_KNOWN: Container[tuple[str, str]] = ()  # iter_seed_files' ``known``, inherited by forked workers (never pickled)


def _read_in_worker(root: Path, rel: str) -> SeedFile | SeedProblem | Known:
    return read_or_report(root, rel, _KNOWN)


def iter_seed_files(
    root: Path, paths: list[str], procs: int = 1, known: Container[tuple[str, str]] = ()
) -> Iterator[SeedFile | SeedProblem | Known]:
    """Read each path in order, yielding the parsed file or the problem that stopped it.

    A file whose (path, SHA-256) is in ``known`` is not parsed: ``Known`` stands for it (the
    caller holds its records: ``indexer.record_cache``). With ``procs`` > 1 the files are parsed in
    that many worker processes (YAML parsing is CPU-bound); results still come back in path order.
    """
    global _KNOWN
    if procs <= 1 or len(paths) < PARALLEL_READ_MIN_FILES:
        for rel in paths:
            yield read_or_report(root, rel, known)
        return
    # imported here: an update reads a few files in this process, and the pool's modules cost its start-up
    # 0.05-0.2 s
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _KNOWN = known
    try:
        with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(partial(_read_in_worker, root), paths, chunksize=64)
    finally:
        _KNOWN = ()
