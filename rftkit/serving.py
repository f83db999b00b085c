"""Run an ASGI app under real uvicorn on loopback, in a background thread.

Tests, notebooks and the demo need the tool service and graders reachable over real HTTP (the
trainer never calls them in-process), and they must leave nothing running. ``serve_in_background``
binds port 0 so parallel test workers never collide, waits until the server accepts connections,
and shuts it down on exit. A connection that does not send a complete request head within
``header_timeout_s`` is closed (:func:`header_timeout_protocol`): uvicorn has no such timeout, so a
client could otherwise hold connections open forever with half-sent heads.

Example::

    with serve_in_background(create_app()) as base_url:
        httpx.get(f"{base_url}/healthz")
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, closing a connection that had no request in flight at two checks
    ``seconds`` apart and started none between them (a half-sent head never starts one). A request
    being answered is never cut; its body has the app's own timeout."""

    class HeaderTimeout(AutoHTTPProtocol):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._seen = (True, None)  # (idle, request) at the last check
            self._check = self.loop.call_later(seconds, self._close_if_stalled)

        def _close_if_stalled(self) -> None:
            now = (self.cycle is None or self.cycle.response_complete, self.cycle)
            if now[0] and self._seen[0] and now[1] is self._seen[1]:
                self.transport.close()  # no request in flight, none started since the last check
                return
            self._seen = now
            self._check = self.loop.call_later(seconds, self._close_if_stalled)

        def connection_lost(self, exc: Exception | None) -> None:
            self._check.cancel()
            super().connection_lost(exc)

    return HeaderTimeout


@contextmanager
def serve_in_background(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    header_timeout_s: float = 10.0,
    **config: Any,
) -> Iterator[str]:
    """Serve ``app`` until the block ends and yield its base URL (``http://127.0.0.1:PORT``)."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it Nagle's algorithm meets delayed ACKs — about 40 ms added to every request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config.setdefault("log_level", "warning")
    config.setdefault("access_log", False)
    config.setdefault("http", header_timeout_protocol(header_timeout_s))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", **config))

    def run() -> None:
        # uvicorn ends a failed startup with sys.exit(); in a thread that is just the end of it.
        with suppress(SystemExit):
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, name=f"uvicorn:{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=5)
            sock.close()
            raise RuntimeError(
                f"server on {host}:{bound_port} did not start within {startup_timeout}s"
            )
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
