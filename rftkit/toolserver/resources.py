"""What tools use besides documents: a database connection, an API client, a folder.

A tool reads its resources from ``ctx.resources["name"]``. Most values are shared as they are
(a folder's path, a thread-safe HTTP client). A value that must not cross threads, such as a
``sqlite3`` connection, is given as :class:`PerThread`: its factory runs once in each thread that
asks, and every later call on that thread reuses the result. Opening a connection per call is the
pattern this replaces (it cost a team 40% of its throughput; see ``benchmarks/tool_resources.py``).

Example::

    resources = Resources({
        "db": PerThread(lambda: sqlite3.connect(DB, check_same_thread=False)),
        "rates": {"EUR": 1.08},
    })
    app = create_app(toolbox=toolbox, resources=resources, token=...)

    @toolbox.tool
    def lookup_order(ctx: ToolContext, order_id: str) -> str:
        '''...'''
        row = ctx.resources["db"].execute("select ...", (order_id,)).fetchone()

``check_same_thread=False`` does not share the connection between threads (each thread still
makes its own); it lets the service close every connection at shutdown from one thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

_log = logging.getLogger(__name__)


class PerThread:
    """A resource made by ``factory`` once per thread that uses it, and closed at shutdown."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self._local = threading.local()
        self._made: list[Any] = []
        self._lock = threading.Lock()

    def get(self) -> Any:
        """This thread's instance, made on first use."""
        try:
            return self._local.value
        except AttributeError:
            value = self.factory()
            self._local.value = value
            with self._lock:
                self._made.append(value)
            return value

    @property
    def made(self) -> int:
        """How many instances exist (one per thread that has asked)."""
        return len(self._made)

    def close(self) -> None:
        """Close every instance made so far (those with a ``close`` method); log, never raise."""
        with self._lock:
            made, self._made = self._made, []
        self._local = threading.local()
        for value in made:
            close = getattr(value, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # one resource failing to close must not keep the rest open
                    _log.exception("closing a per-thread resource failed")

    def __repr__(self) -> str:  # never the resource itself: it may hold a connection string
        return f"PerThread({getattr(self.factory, '__name__', 'factory')}, made={self.made})"


class Resources(Mapping[str, Any]):
    """Name → resource for the tools; :class:`PerThread` entries resolve to this thread's own."""

    def __init__(self, entries: Mapping[str, Any] | None = None) -> None:
        self._entries = dict(entries or {})

    def __getitem__(self, name: str) -> Any:
        try:
            entry = self._entries[name]
        except KeyError:
            have = ", ".join(self._entries) or "none"
            raise KeyError(f"no resource {name!r}; the service was given: {have}") from None
        return entry.get() if isinstance(entry, PerThread) else entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        """Close what the :class:`PerThread` entries made (at the service's shutdown)."""
        for entry in self._entries.values():
            if isinstance(entry, PerThread):
                entry.close()

    def __repr__(self) -> str:  # names only: values may hold credentials
        return f"Resources({sorted(self._entries)})"
