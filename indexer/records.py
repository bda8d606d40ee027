"""One news item's fields, validated: a YAML mapping -> a Record, or a SeedFileError that says why."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .text import BIDI_CONTROLS, CONTROL_CHARS, canonical_url, clean_query, clean_text
from .textfiles import SeedFileError

MAX_TITLE_CHARS = 1_000
MAX_EXCERPT_CHARS = 10_000
MAX_TOPICS = 100
# a sitemap's limit for a URL; a story is named by its lead's, and filters, the similar routes and
# analytics take URLs this long, so every item can be chosen, opened and counted
MAX_URL_CHARS = 2_048
# quality and heat are indexed as 32-bit numbers; the top one marks an item without a quality (Store.column)
INT_RANGE = (-(2**31), 2**31 - 2)


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


def type_name(value: Any) -> str:
    """How a YAML value is named in an error message."""
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
        raise SeedFileError(f"field '{name}' must be text, got {type_name(value)}")
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
            # RFC 3339 lets "t" and "z" be lower case ("2020-06-10t10:00:00z")
            parsed = dt.datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
        except ValueError:
            raise SeedFileError(f"field '{name}' is not a date-time: {value!r:.40}") from None
    else:
        raise SeedFileError(f"field '{name}' must be a date-time, got {type_name(value)}")
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:59:59-05:00 is in the year 10000 in UTC, 0001-01-01T00:00+14:00 in year 0
            raise SeedFileError(f"field '{name}' is outside the dates there are, once in UTC: {value!s:.40}") from None
    return parsed


# a control character in a URL reaches the page's href and a terminal as it is: percent-encoded, as a
# browser's URL parser would send it
_URL_CONTROLS = re.compile("[" + "".join(map(chr, (*CONTROL_CHARS, *BIDI_CONTROLS))) + "]")
_URL_DROPPED = dict.fromkeys(map(ord, "\t\n\r"))  # a browser's URL parser removes these before the rest


def _url(item: dict) -> tuple[str, str]:
    """The item's URL and its canonical form (the item's key)."""
    for name in ("webUrl", "originalUrl"):
        value = item.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise SeedFileError(f"field '{name}' must be text, got {type_name(value)}")
        value = html.unescape(value.strip())
        if not value.isprintable():  # only such a URL holds a control character or a bidi mark
            value = _URL_CONTROLS.sub(lambda m: quote(m[0]), value.translate(_URL_DROPPED))
        try:
            key = canonical_url(value)
        except ValueError:  # e.g. a port that is not a number
            key = ""
        if not value.lower().startswith(("http://", "https://")) or not key:
            raise SeedFileError(f"field '{name}' is not an http(s) URL: {value!r:.60}")
        if len(value) > MAX_URL_CHARS:
            raise SeedFileError(
                f"field '{name}' is {len(value):,} characters; a URL may have at most {MAX_URL_CHARS:,}"
            )
        return value, key
    raise SeedFileError("no 'webUrl' or 'originalUrl': an item needs a URL")


def facet_value(text: str) -> str:
    """A provider or topic as a filter can name it.

    The C1 controls and bidi marks a query or filter drops (``clean_query``) are dropped here too, or
    the facet would list a value no filter selects.
    """
    return clean_text(clean_query(text)) if not text.isprintable() else text


def _provider(item: dict) -> tuple[str, str]:
    value = item.get("provider")
    if value is None:
        return "", ""
    if isinstance(value, str):
        value = {"name": value}  # the short form, read and cut as the mapping's name is
    if not isinstance(value, dict):
        raise SeedFileError(f"field 'provider' must be a mapping with 'name', got {type_name(value)}")
    return facet_value(_text(value, "name")), _text(value, "domain").lower()


def _topics(item: dict) -> tuple[str, ...]:
    value = item.get("topics")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise SeedFileError(f"field 'topics' must be a list, got {type_name(value)}")
    topics: list[str] = []
    for topic in value[:MAX_TOPICS]:
        if isinstance(topic, (str, int, float)) and not isinstance(topic, bool):
            cleaned = facet_value(clean_text(str(topic))[:100])
            if cleaned and cleaned not in topics:
                topics.append(cleaned)
        else:
            raise SeedFileError(f"field 'topics' must hold text, got {type_name(topic)}")
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


def record(
    item: dict,
    rel: str,
    *,
    kind: str,
    parent: str | None,
    topics: tuple[str, ...] | None,
    notes: list[str] | None = None,
) -> Record:
    """One item of a seed file, validated field by field; dropped or clipped parts noted in ``notes``."""
    url, key = _url(item)
    name, domain = _provider(item)
    own_topics = _topics(item)
    return Record(
        key=key,
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
