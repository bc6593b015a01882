"""Serve a built site on localhost for the browser check: a quiet threaded ``http.server``."""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["serve", "running"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging each request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # the browser drops connections it no longer needs (a page closed mid-load): not our error
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on a free port of 127.0.0.1 in a thread; yield its base URL (ending in ``/``).

    The server is shut down when the ``with`` block ends, also after an exception.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder to serve: {root}")
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    with running(server, "sitecheck-http") as base:
        yield base + "/"


@contextmanager
def running(server: http.server.HTTPServer, name: str = "http") -> Iterator[str]:
    """Run ``server`` (bound to 127.0.0.1) in a daemon thread; yield ``http://127.0.0.1:PORT``.

    The server is shut down and closed when the ``with`` block ends, also after an exception.
    """
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
