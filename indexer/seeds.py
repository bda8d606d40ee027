"""Reading seed files: Jekyll front matter -> validated item records, or a clear per-file error."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from .text import canonical_url, clean_text
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
MAX_TITLE_CHARS = 1_000
MAX_EXCERPT_CHARS = 10_000
MAX_TOPICS = 100
PARALLEL_READ_MIN_FILES = 500  # below this, starting worker processes costs more than it saves
INT_RANGE = (-(2**31), 2**31 - 1)  # quality and heat are indexed as 32-bit numbers
MAX_ALIASES = 20  # real seed files use none; expansion attacks need many


@dataclass(frozen=True)
class Item:
    """The fields of a news item, wherever it is stated."""

    key: str
    url: str
    kind: str
    title: str
    excerpt: str
    published: dt.datetime | None
    quality: int | None
    heat: int | None
    provider: str
    provider_domain: str
    topics: tuple[str, ...]
    image: str


@dataclass(frozen=True)
class Record(Item):
    """One news item as one file states it (an article or one of its related entries)."""

    source: str = ""
    parent: str | None = None


@dataclass
class SeedFile:
    """A successfully read seed file: its content hash, its records and any dropped parts."""

    path: str
    sha256: str
    records: list[Record]
    warnings: list[str] = field(default_factory=list)


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that rejects duplicate keys and alias floods (billion-laughs)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

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
        raise SeedFileError(f"front matter must be a mapping of fields, got {_type_name(front)}")
    warnings: list[str] = []
    article = _record(front, rel, kind="article", parent=None, topics=None, notes=warnings)
    records = [article]
    related = front.get("related")
    if related is not None and not isinstance(related, list):
        warnings.append(f"field 'related' must be a list, got {_type_name(related)}; ignored")
        related = []
    for i, entry in enumerate(related or [], start=1):
        try:
            if not isinstance(entry, dict):
                raise SeedFileError(f"must be a mapping, got {_type_name(entry)}")
            notes: list[str] = []
            records.append(_record(entry, rel, kind="related", parent=article.key, topics=article.topics, notes=notes))
            warnings.extend(f"related item {i}: {note}" for note in notes)
        except SeedFileError as exc:
            warnings.append(f"related item {i} skipped: {exc}")
    return SeedFile(path=rel, sha256=file_hash(data), records=records, warnings=warnings)


# ---------------------------------------------------------------------------
# Validation


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _text(
    item: dict, name: str, *, required: bool = False, limit: int = MAX_TITLE_CHARS, notes: list[str] | None = None
) -> str:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise SeedFileError(f"field '{name}' is missing")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a bare number as a title is odd but harmless
    if not isinstance(value, str):
        raise SeedFileError(f"field '{name}' must be text, got {_type_name(value)}")
    cleaned = clean_text(value)
    if len(cleaned) > limit:
        if notes is not None:
            notes.append(f"field '{name}' is {len(cleaned):,} characters; cut to {limit:,}")
        cleaned = cleaned[:limit].rsplit(" ", 1)[0] + "…"
    return cleaned


def _int(item: dict, name: str) -> int | None:
    number = _whole_number(item, name)
    if number is not None and not INT_RANGE[0] <= number <= INT_RANGE[1]:
        # the index stores 32-bit numbers: say so here rather than fail the whole index write
        raise SeedFileError(
            f"field '{name}' is out of range: {number} (must be between {INT_RANGE[0]:,} and {INT_RANGE[1]:,})"
        )
    return number


def _whole_number(item: dict, name: str) -> int | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SeedFileError(f"field '{name}' must be a whole number, got true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise SeedFileError(f"field '{name}' must be a whole number, got {value!r:.40}")


def _datetime(item: dict, name: str) -> dt.datetime | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise SeedFileError(f"field '{name}' is not a date-time: {value!r:.40}") from None
    else:
        raise SeedFileError(f"field '{name}' must be a date-time, got {_type_name(value)}")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _url(item: dict) -> str:
    for name in ("webUrl", "originalUrl"):
        value = item.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise SeedFileError(f"field '{name}' must be text, got {_type_name(value)}")
        value = html.unescape(value.strip())
        try:
            key = canonical_url(value)
        except ValueError:  # e.g. a port that is not a number
            key = ""
        if not value.lower().startswith(("http://", "https://")) or not key:
            raise SeedFileError(f"field '{name}' is not an http(s) URL: {value!r:.60}")
        return value
    raise SeedFileError("no 'webUrl' or 'originalUrl': an item needs a URL")


def _provider(item: dict) -> tuple[str, str]:
    value = item.get("provider")
    if value is None:
        return "", ""
    if isinstance(value, str):
        return clean_text(value), ""
    if not isinstance(value, dict):
        raise SeedFileError(f"field 'provider' must be a mapping with 'name', got {_type_name(value)}")
    return _text(value, "name"), _text(value, "domain").lower()


def _topics(item: dict) -> tuple[str, ...]:
    value = item.get("topics")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise SeedFileError(f"field 'topics' must be a list, got {_type_name(value)}")
    topics: list[str] = []
    for topic in value[:MAX_TOPICS]:
        if isinstance(topic, (str, int, float)) and not isinstance(topic, bool):
            cleaned = clean_text(str(topic))[:100]
            if cleaned and cleaned not in topics:
                topics.append(cleaned)
        else:
            raise SeedFileError(f"field 'topics' must hold text, got {_type_name(topic)}")
    return tuple(topics)


def _image(item: dict) -> str:
    images = item.get("images")
    if not isinstance(images, list):
        return ""
    for image in images:
        if isinstance(image, dict) and isinstance(image.get("url"), str):
            url = html.unescape(image["url"].strip())
            if url.lower().startswith(("http://", "https://")):
                return url
    return ""


def _record(
    item: dict,
    rel: str,
    *,
    kind: str,
    parent: str | None,
    topics: tuple[str, ...] | None,
    notes: list[str] | None = None,
) -> Record:
    url = _url(item)
    name, domain = _provider(item)
    own_topics = _topics(item)
    return Record(
        key=canonical_url(url),
        url=url,
        kind=kind,
        title=_text(item, "title", required=True, notes=notes),
        excerpt=_text(item, "excerpt", limit=MAX_EXCERPT_CHARS, notes=notes),
        published=_datetime(item, "publishedDateTime"),
        quality=_int(item, "quality"),
        heat=_int(item, "heat"),
        provider=name,
        provider_domain=domain,
        # related items inherit their article's topics (plus any of their own)
        topics=tuple(dict.fromkeys((*own_topics, *(topics or ())))),
        image=_image(item),
        source=rel,
        parent=parent,
    )


def read_or_report(root: Path, rel: str) -> SeedFile | SeedProblem:
    """The parsed file, or the problem that stopped it: never raises."""
    try:
        return read_seed_file(root, rel)
    except SeedFileError as exc:
        return SeedProblem(rel, str(exc))
    except Exception as exc:  # noqa: BLE001 - one file must never stop the run
        return SeedProblem(rel, f"unexpected error while reading ({type(exc).__name__}: {exc})")


def iter_seed_files(root: Path, paths: list[str], procs: int = 1) -> Iterator[SeedFile | SeedProblem]:
    """Read each path in order, yielding the parsed file or the problem that stopped it.

    With ``procs`` > 1 the files are parsed in that many worker processes (YAML parsing is
    CPU-bound); results still come back in path order.
    """
    if procs <= 1 or len(paths) < PARALLEL_READ_MIN_FILES:
        for rel in paths:
            yield read_or_report(root, rel)
        return
    with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(partial(read_or_report, root), paths, chunksize=64)
