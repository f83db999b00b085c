"""Run coroutines from synchronous code on a long-lived event loop in a daemon thread.

Notebooks and sync APIs (``run_grader``, ``run_rollouts_sync``, ``check_endpoint``) need async
I/O without owning a loop, and must work where the caller's loop is already running (Jupyter).
One persistent loop per user, rather than ``asyncio.run`` per call, also keeps async clients
(``openai.AsyncOpenAI``'s connection pool) bound to a live loop across calls. Each user owns its
own ``BackgroundLoop``, so a sync call made from code running on another one never waits on itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """An event loop started on first use in a daemon thread named ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Start ``coroutine`` on the loop and return its future without waiting."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` to the end and return its result; Ctrl-C cancels it."""
        future = self.submit(coroutine)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise
