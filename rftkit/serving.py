"""Run an ASGI app under real uvicorn on loopback, in a background thread.

Tests, notebooks and the demo need the tool service and graders reachable over real HTTP (the
trainer never calls them in-process), and they must leave nothing running. ``serve_in_background``
binds port 0 so parallel test workers never collide, waits until the server accepts connections,
and shuts it down on exit.

Example::

    with serve_in_background(create_app()) as base_url:
        httpx.get(f"{base_url}/healthz")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import uvicorn


@contextmanager
def serve_in_background(
    app: Any, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0, **config: Any
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
