"""Shared by the on-demand load scripts: a real server on a free port, and wrk query mixes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(port: int, seconds: float = 60) -> None:
    """Return once the port accepts connections (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)


def start_server(index: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """``search-cli serve`` on a free loopback port, returned once it accepts connections.

    ``env`` may set SEARCH_WORKERS (default here: 1, waitress, as the earlier figures were measured).
    """
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "--index", str(index), "serve", "--port", str(port), "--no-access-log"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "SEARCH_WORKERS": "1", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_serving(port, 30)
    return server, port


def wrk_rotation(paths: list[str], folder: Path) -> list[str]:
    """wrk arguments for a Lua script that sends each request to the next path of ``paths``."""
    script = folder / "rotation.lua"
    quoted = ", ".join('"' + p.replace('"', "") + '"' for p in paths)
    script.write_text(
        f"local paths = {{{quoted}}}\nlocal i = 0\n"
        "request = function() i = i % #paths + 1; return wrk.format('GET', paths[i]) end\n"
    )
    return ["-s", str(script)]
