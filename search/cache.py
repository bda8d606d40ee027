"""The answer cache of one generation, with single flight: identical requests arriving together are computed once.

A generation's answers can never be stale (a new generation starts with an empty cache), so
entries are only evicted for room (least recently used first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

INFLIGHT_WAIT_SECONDS = 10.0  # then compute it yourself (the first one may have failed)


class AnswerCache:
    """Least-recently-used answers by request; concurrent identical misses wait for the first."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._answers: OrderedDict[Hashable, Any] = OrderedDict()
        self._inflight: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = 0  # answers served from the cache (tests and operators can tell)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """(answer, whether it came from the cache); ``compute`` runs once for concurrent equal keys."""
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None:
                self._answers.move_to_end(key)
                self.hits += 1
                return cached, True
            running = self._inflight.get(key)
            leader = running is None
            if leader:
                self._inflight[key] = running = threading.Event()
        if not leader:
            running.wait(timeout=INFLIGHT_WAIT_SECONDS)
            with self._lock:
                cached = self._answers.get(key)
                if cached is not None:
                    self.hits += 1
                    return cached, True
        try:
            answer = compute()
            with self._lock:
                if self.entries > 0:
                    self._answers[key] = answer
                    while len(self._answers) > self.entries:
                        self._answers.popitem(last=False)
        finally:
            if leader:
                with self._lock:
                    self._inflight.pop(key, None)
                running.set()
        return answer, False

    def clear(self) -> None:
        """Forget every answer (tests, policy changes)."""
        with self._lock:
            self._answers.clear()

    def __len__(self) -> int:
        return len(self._answers)
