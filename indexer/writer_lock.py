"""The index's writer lock, and the worker processes a build forks while holding it.

The lock is an flock on index/.lock, so the kernel releases it when its holder dies, even by
SIGKILL. But an flock belongs to the *open file description*, and fork() shares that with the
child: a build's workers (Whoosh's writer processes, the seed-parsing pool) used to keep the
index locked after `kill -9` of the build, and `index --wait` hung forever. Two rules, enforced
by a fork hook rather than by each pool (Whoosh's workers have no initializer to hook into):
  1. children close their copy of the lock fd at once, so only the process that took the lock
     holds it (os.close, never LOCK_UN: unlocking would release the parent's lock too);
  2. children forked during a build get PR_SET_PDEATHSIG, so they die with the build.
The fd is also close-on-exec, so no program a build runs inherits the lock. (POSIX record
locks are not inherited by fork, but any close() of the file in the holder drops them and
they do not exclude a second writer in the same process: flock plus the hook is sturdier.)
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any


class IndexBusy(Exception):
    """Another process is updating the index."""


LOCK_FILE = ".lock"
STALE_GRACE_SECONDS = 5.0  # `--wait` gives up on a lock whose taker has exited after this long
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_lock_fds: set[int] = set()  # writer-lock fds open in this process: forked children close them
_guard_depth = 0  # > 0 while children forked now must die with this process
_forking_parent = 0  # pid of the process that is forking (set just before each fork)


def _load_prctl() -> Any:
    """The C library's prctl on Linux (loaded here, in the parent: children only call it), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def die_with_parent(parent: int) -> None:
    """Make this process exit when ``parent`` exits, however it ends (SIGKILL included)."""
    if _prctl is None or _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        # no prctl (not Linux): poll for being re-parented instead
        def watch_parent() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch_parent, name="die-with-parent", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)


def _before_fork() -> None:
    global _forking_parent
    _forking_parent = os.getpid()


def _after_fork_in_child() -> None:
    for fd in list(_lock_fds):
        with suppress(OSError):
            os.close(fd)
    _lock_fds.clear()
    if _guard_depth > 0:
        die_with_parent(_forking_parent)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


@contextmanager
def workers_die_with_parent() -> Iterator[None]:
    """Within this block, children forked by this process are killed when it dies.

    Fork from the main thread only: the kernel sends the signal when the forking *thread* ends.
    """
    global _guard_depth
    _guard_depth += 1
    try:
        yield
    finally:
        _guard_depth -= 1


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:  # a killed process nobody has reaped yet is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _holds_lock(pid: int, target: os.stat_result) -> bool | None:
    """Whether ``pid`` has the file open with the lock on it (Linux /proc); None when unknown."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    except OSError:
        return None
    for fd in fds:
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                # fdinfo lists a flock only under the fds that share the locking file description
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as fh:
                    if "\nlock:" in fh.read():
                        return True
        except OSError:
            continue
    return False


def lock_holders(path: Path) -> list[int] | None:
    """Pids of the processes holding the flock on ``path``; None when /proc cannot tell."""
    try:
        target = os.stat(path)
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    return [pid for pid in sorted(pids) if _holds_lock(pid, target)]


def _busy_reason(fd: int, path: Path) -> tuple[str, bool]:
    """Why the lock is not ours: (message for IndexBusy, whether its holder looks stale)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    recorded = int(text) if text.isdigit() else None
    if recorded is None or (_is_alive(recorded) and _holds_lock(recorded, os.fstat(fd)) is not False):
        return f"an index update is already running (process {text or 'unknown'}); use --wait to wait for it", False
    # the process that took the lock is gone (or its pid was reused), yet the lock is held:
    # by processes that inherited it, e.g. workers orphaned by a build killed with SIGKILL
    holders = lock_holders(path)
    if holders:
        pids = " ".join(map(str, holders))
        return (
            f"the index lock {path} is held by process {', '.join(map(str, holders))}, left over from an"
            f" index update (process {recorded}) that has exited; stop them with 'kill {pids}'"
            " and run the command again",
            True,
        )
    return (
        f"the index lock {path} is held, but the index update that took it (process {recorded}) has"
        f" exited: probably by its orphaned worker processes; list them with 'fuser -v {path}',"
        " stop them, and run the command again",
        True,
    )


@contextmanager
def writer_lock(index_dir: Path, *, wait: bool = False, timeout: float | None = None) -> Iterator[None]:
    """Hold the index's writer lock; IndexBusy names the process that has it, or the stale holders.

    While it is held, forked children neither keep the lock nor outlive this process.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    _lock_fds.add(fd)  # at once: a child forked by another thread from now on closes it too
    deadline = None if timeout is None else time.monotonic() + timeout
    stale_since: float | None = None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            message, stale = _busy_reason(fd, path)
            now = time.monotonic()
            expired = deadline is not None and now > deadline
            if stale:
                # stale twice 0.2 s apart, not once: a new holder may not have written its pid yet;
                # with --wait, a few seconds for dying workers to go, then say what to do, not hang
                stale_since = stale_since or now
                if expired or now - stale_since > (STALE_GRACE_SECONDS if wait else 0.1):
                    raise IndexBusy(message)
            else:
                stale_since = None
                if not wait or expired:
                    raise IndexBusy(message)
            time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        with workers_die_with_parent():
            yield
    finally:
        _lock_fds.discard(fd)
        os.close(fd)  # closing releases the flock (children forked meanwhile closed their copies)
