"""waitress, with the security headers on the error replies it writes itself.

waitress answers some requests without calling the app: a request line it cannot parse (400),
headers over its limit (431), a body over its limit (413), an app that failed before writing
(500). Those replies are built by ``waitress.task.ErrorTask``; the channel class names which
task class to use, and the server names the channel class, so one subclass of each is enough.
"""

from __future__ import annotations

from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from .policy import with_defaults


class HeaderedErrorTask(ErrorTask):
    """waitress's own error reply, plus the app's security headers and ``Cache-Control: no-store``."""

    def execute(self) -> None:
        """Add the headers first: ``ErrorTask.execute`` writes the head with the body."""
        self.response_headers = with_defaults(self.response_headers)
        super().execute()


class HeaderedChannel(HTTPChannel):
    """An HTTP connection whose waitress-made error replies carry the security headers."""

    error_task_class = HeaderedErrorTask


def create_server(app: Any, **adjustments: Any) -> Any:
    """``waitress.create_server`` whose every listening socket uses HeaderedChannel."""
    sockets: dict = {}
    server = waitress.create_server(app, map=sockets, **adjustments)
    for dispatcher in list(sockets.values()):  # one server per listening socket, beside the trigger
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = HeaderedChannel
    return server
