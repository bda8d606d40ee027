"""Keep an index in line with a seed folder as files change (``search-cli index --watch``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .seeds import SEED_SUFFIXES

# Events of reading, not changing: the indexer's own reads (broken files are re-read on every
# update to keep their reasons current) would otherwise trigger the next update, forever.
READ_EVENTS = frozenset({"opened", "closed_no_write"})


class _Changes(FileSystemEventHandler):
    """Sets an event when anything that could be a seed file changes."""

    def __init__(self, changed: threading.Event) -> None:
        self.changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in READ_EVENTS:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if event.is_directory or any(str(p).lower().endswith(SEED_SUFFIXES) for p in paths if p):
            self.changed.set()


def watch(
    seeds: Path, run_update: Callable[[], None], *, debounce: float = 1.0, stop: threading.Event | None = None
) -> None:
    """Call ``run_update`` after each burst of changes, once ``debounce`` seconds pass quietly.

    Editors and sync tools write several files (and temporary files) in a row; waiting for a
    quiet moment turns a burst into one update.
    """
    stop = stop or threading.Event()
    changed = threading.Event()
    handler = _Changes(changed)
    observer = Observer()
    observer.schedule(handler, str(seeds), recursive=True)
    watched = _identity(seeds)
    observer.start()
    try:
        while not stop.is_set():
            if not changed.wait(timeout=0.5):
                # a deploy that swaps the folder (mv seeds old; cp -r new seeds) leaves the observer on
                # the old one: follow the path to the folder now there
                now = _identity(seeds)
                if now is not None and now != watched:
                    observer.unschedule_all()
                    observer.schedule(handler, str(seeds), recursive=True)
                    watched = now
                    changed.set()
                continue
            while True:  # wait until no change arrived for `debounce` seconds
                changed.clear()
                if stop.wait(debounce) or not changed.is_set():
                    break
            if not stop.is_set():
                run_update()
    finally:
        observer.stop()
        observer.join()


def _identity(folder: Path) -> tuple[int, int] | None:
    """Which directory ``folder`` names now (device and inode), None while nothing is there."""
    try:
        found = os.stat(folder)
    except OSError:
        return None
    return found.st_dev, found.st_ino
