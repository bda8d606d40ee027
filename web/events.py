"""What ``POST /api/events`` accepts, and how often: validation and a per-client rate limit.

Events come from the page's own script, so anything it would not send is refused with a
sentence saying why. The rate limit is a token bucket per client address, kept in memory only
(addresses are never stored) and bounded in size.
"""

from __future__ import annotations

import ipaddress
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from indexer.text import encodable
from search.analytics import MAX_RANK, MAX_URL_CHARS, setting, whole_number

MAX_PARAMS_CHARS = 4_000  # a query of 1,000 characters, percent-encoded, and a few filters
FIELDS = {"search": {"type", "params"}, "click": {"type", "params", "url", "rank"}}
DEFAULT_PER_MINUTE = 30.0
DEFAULT_BURST = 60
MAX_CLIENTS = 10_000  # buckets kept; the least recently seen are forgotten first


class EventError(ValueError):
    """An event the page's script would never send; the message says what is wrong."""


@dataclass(frozen=True)
class Event:
    """A validated event: ``url`` and ``rank`` only for clicks."""

    type: str
    params: str
    url: str = ""
    rank: int | None = None


def parse_event(body: bytes) -> Event:
    """The event in a JSON body; EventError with a sentence for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested absurdly deep
        raise EventError('the body must be a JSON object such as {"type": "click", ...}') from None
    if not isinstance(data, dict):
        raise EventError('the body must be a JSON object such as {"type": "click", ...}')
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:  # a list or an object as the type is unhashable
        raise EventError(f"'type' must be 'search' or 'click', got {json.dumps(kind)[:40]}")
    unknown = sorted(set(data) - FIELDS[kind])
    if unknown:
        raise EventError(
            f"unknown field {json.dumps(unknown[0])[:40]}: a {kind} event has {', '.join(sorted(FIELDS[kind]))}"
        )
    params = data.get("params", "")
    if not isinstance(params, str) or len(params) > MAX_PARAMS_CHARS:
        raise EventError(f"'params' must be the page's URL query, a string of at most {MAX_PARAMS_CHARS:,} characters")
    _unicode(params, "params")
    if kind == "search":
        return Event(kind, params)
    url = data.get("url")
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_CHARS:
        raise EventError(f"'url' must be the address of the opened result, 1 to {MAX_URL_CHARS:,} characters")
    _unicode(url, "url")
    rank = data.get("rank")
    if rank is not None:
        try:
            rank = whole_number(rank, 1, MAX_RANK, "rank")
        except ValueError as exc:
            raise EventError(f"{exc} (or null)") from None
    return Event(kind, params, url, rank)


def _unicode(text: str, name: str) -> None:
    """EventError for a string JSON let through that is not Unicode text: a lone surrogate."""
    if not encodable(text):
        raise EventError(f"'{name}' must be text: it holds a lone surrogate (\\ud800-\\udfff)")


def check_rank(event: Event, page: int, limit: int) -> None:
    """EventError unless a click's rank is on the page of results its ``params`` describe."""
    first, last = (page - 1) * limit + 1, page * limit
    if event.rank is not None and not first <= event.rank <= last:
        raise EventError(f"'rank' {event.rank:,} is not on that page of results ({first:,} to {last:,})")


def client_key(address: str | None) -> str:
    """Who a bucket is for: the address, or its /64 for IPv6 (one host is given a whole /64)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "-"
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


class RateLimiter:
    """Token buckets per client: ``per_minute`` events on average, up to ``burst`` at once."""

    def __init__(
        self,
        per_minute: float = DEFAULT_PER_MINUTE,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0  # tokens a second
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when); oldest use first
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RateLimiter:
        """Limits from EVENTS_PER_MINUTE and EVENTS_BURST of ``settings``, else the environment, else defaults."""
        return cls(
            setting(settings, "EVENTS_PER_MINUTE", "SEARCH_EVENTS_PER_MINUTE", DEFAULT_PER_MINUTE),
            setting(settings, "EVENTS_BURST", "SEARCH_EVENTS_BURST", DEFAULT_BURST, int),
        )

    def take(self, address: str | None) -> float:
        """Spend one token of ``address``'s bucket: 0 when allowed, else the seconds until one is free."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self._rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self._rate
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)  # re-inserted: most recent last
            while len(self._buckets) > self._max_clients:
                del self._buckets[next(iter(self._buckets))]  # forgetting gives a full bucket: never stricter
            return wait


def retry_after(wait: float) -> int:
    """``wait`` seconds as a Retry-After value: whole seconds, at least 1."""
    return max(1, math.ceil(wait))
