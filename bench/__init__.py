"""On-demand benchmarks (never run as timed tests)."""

from __future__ import annotations

import os


def user_env() -> dict[str, str]:
    """The environment a user's command runs in: Python may write bytecode, as an installed package has it.

    PYTHONDONTWRITEBYTECODE, set in some shells (this machine's among them), made every timed
    ``search-cli`` run compile the project's modules from source again (~0.08 s of CPU).
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
