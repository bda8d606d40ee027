"""Front ends: the search page, the JSON API, feeds and health (Flask), and the ``search-cli`` command line.

The package imports nothing heavy itself, so the command line starts fast; ``create_app`` (the
application factory, ``gunicorn 'web:create_app()'``) loads Flask and the app on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SECURITY_HEADERS", "create_app"]


def create_app(config: dict[str, Any] | None = None):
    """The Flask application (see ``web.app.create_app``)."""
    from .app import create_app as factory

    return factory(config)


def __getattr__(name: str) -> Any:
    if name == "SECURITY_HEADERS":
        from .policy import SECURITY_HEADERS

        return SECURITY_HEADERS
    raise AttributeError(name)
