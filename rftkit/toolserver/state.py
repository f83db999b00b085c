"""Per-rollout state, keyed by ``trace_id``: what a tool remembers and what the service replays.

The trainer sends every call of one rollout with the same ``trace_id``, may send several of them
at once (parallel tool calls), and retries a call after a 5xx or a timeout. So each rollout gets a
:class:`TraceRecord` — the tools' own state (``ToolContext.state``), the replies already given
(keyed by ``call_id``, so a retry is answered from the cache instead of repeating a side effect)
and a call log an endpoint grader can score — guarded by a per-trace lock and forgotten after a
TTL of inactivity.

Anyone with the token chooses trace ids and argument sizes, so the in-memory store is bounded:
at most ``max_traces`` live traces, ``max_trace_bytes`` of logged calls per trace (its oldest
calls and their cached replies go first) and ``max_total_bytes`` in all (the least recently used
traces go first). Each eviction is counted (``evicted_traces``, ``evicted_calls``). Sizes are
those of the calls' JSON arguments and replies; the tools' own ``state`` is not measured.

Two stores share one small interface:

- :class:`InMemoryStateStore`, the default: one process (local runs, tests, one Modal container).
- :class:`ModalDictStateStore`: records in a ``modal.Dict`` so that every container of a Modal
  deployment sees the same rollouts; the per-trace lock becomes a lease in the same Dict.

Example::

    store = InMemoryStateStore(ttl_seconds=600)
    async with store.lock("trace_abc"):
        record = await store.load("trace_abc")
        record.state["notes"] = ["seen"]
        await store.save(record)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

DEFAULT_TTL_SECONDS = 3600.0
"""A rollout idle this long is over: its state is dropped (the trainer's tool timeout is 10 min)."""
MIB = 1024 * 1024
DEFAULT_MAX_TRACES = 10_000
"""Live rollouts kept: a job's concurrent rollouts with room to spare."""
DEFAULT_MAX_TRACE_BYTES = 16 * MIB
"""Logged calls per rollout: 16 calls of the largest payload (1 MB), far more of real ones."""
DEFAULT_MAX_TOTAL_BYTES = 256 * MIB


@dataclass
class TraceRecord:
    """Everything the service keeps about one rollout. Plain data, so it pickles for modal.Dict."""

    trace_id: str
    state: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    touched: float = 0.0
    sizes: list[int] = field(default_factory=list)
    """Bytes of each entry of ``calls`` (its arguments and reply), in the same order."""
    size: int = 0

    def log(self, entry: dict[str, Any], size: int) -> None:
        """Append a call to the log, with its size in bytes."""
        self.calls.append(entry)
        self.sizes.append(size)
        self.size += size

    def drop_oldest(self) -> None:
        """Forget the oldest logged call and its cached reply (a retry of it runs again)."""
        entry = self.calls.pop(0)
        self.size -= self.sizes.pop(0)
        if not any(c["call_id"] == entry["call_id"] for c in self.calls):
            self.replies.pop(entry["call_id"], None)


class StateStore(Protocol):
    """Where trace records live. Call ``load``/``save`` only while holding ``lock(trace_id)``."""

    def lock(self, trace_id: str) -> Any:
        """An async context manager that serialises the calls of one rollout."""
        ...

    async def load(self, trace_id: str) -> TraceRecord:
        """The rollout's record; a fresh one if it is new or expired."""
        ...

    async def save(self, record: TraceRecord) -> None:
        """Persist the record and restart its TTL."""
        ...

    async def peek(self, trace_id: str) -> TraceRecord | None:
        """The record if it exists and is live, without creating one (for ``GET /traces``)."""
        ...


class InMemoryStateStore:
    """Records in a dict of this process; expired ones are swept lazily, at most every TTL/10,
    and the least recently used evicted beyond the caps (see the module docstring).

    Sweeping on access (rather than in a background task) keeps the store correct wherever the
    app runs — under uvicorn, under a TestClient without lifespan, or inside a Modal container.
    """

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_traces: int = DEFAULT_MAX_TRACES,
        max_trace_bytes: int = DEFAULT_MAX_TRACE_BYTES,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_traces = max_traces
        self.max_trace_bytes = max_trace_bytes
        self.max_total_bytes = max_total_bytes
        self.evicted_traces = 0
        self.evicted_calls = 0
        self.total_bytes = 0
        self._clock = clock
        self._records: OrderedDict[str, TraceRecord] = OrderedDict()  # least recently used first
        self._accounted: dict[str, int] = {}  # bytes of each record counted in total_bytes
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_sweep = clock()

    def __len__(self) -> int:
        return len(self._records)

    def lock(self, trace_id: str) -> asyncio.Lock:
        # No await between lookup and acquisition, so a sweep cannot drop a lock being taken.
        return self._locks.setdefault(trace_id, asyncio.Lock())

    async def load(self, trace_id: str) -> TraceRecord:
        self._sweep()
        record = self._live(trace_id)
        if record is None:
            self._forget(trace_id)
            record = TraceRecord(trace_id=trace_id, touched=self._clock())
            self._records[trace_id] = record
            self._evict(keep=trace_id)
        return record

    async def save(self, record: TraceRecord) -> None:
        record.touched = self._clock()
        while record.size > self.max_trace_bytes and record.calls:
            record.drop_oldest()
            self.evicted_calls += 1
        self._records[record.trace_id] = record
        self._records.move_to_end(record.trace_id)
        self.total_bytes += record.size - self._accounted.get(record.trace_id, 0)
        self._accounted[record.trace_id] = record.size
        self._evict(keep=record.trace_id)

    def _evict(self, keep: str) -> None:
        """Drop least recently used records, never ``keep`` or a locked one, within the caps."""
        for trace_id in list(self._records):
            if len(self._records) <= self.max_traces and self.total_bytes <= self.max_total_bytes:
                return
            lock = self._locks.get(trace_id)
            if trace_id == keep or (lock is not None and lock.locked()):
                continue
            self._forget(trace_id)
            self._locks.pop(trace_id, None)
            self.evicted_traces += 1

    def _forget(self, trace_id: str) -> None:
        self._records.pop(trace_id, None)
        self.total_bytes -= self._accounted.pop(trace_id, 0)

    async def peek(self, trace_id: str) -> TraceRecord | None:
        return self._live(trace_id)

    def _live(self, trace_id: str) -> TraceRecord | None:
        record = self._records.get(trace_id)
        if record is not None and self._clock() - record.touched > self.ttl_seconds:
            return None
        return record

    def _sweep(self) -> None:
        now = self._clock()
        if now - self._last_sweep < self.ttl_seconds / 10:
            return
        self._last_sweep = now
        for trace_id, record in list(self._records.items()):
            lock = self._locks.get(trace_id)
            if now - record.touched > self.ttl_seconds and not (lock and lock.locked()):
                self._forget(trace_id)
                self._locks.pop(trace_id, None)
        for trace_id, lock in list(self._locks.items()):  # locks whose record never came to be
            if trace_id not in self._records and not lock.locked():
                del self._locks[trace_id]


class ModalDictStateStore:
    """Records in a ``modal.Dict`` shared by all containers of a deployment.

    - Values are :class:`TraceRecord` objects (Modal pickles them); keys are ``trace:<id>``.
    - TTL: a record older than ``ttl_seconds`` (wall clock, shared by containers) reads as new.
      Storage itself is reclaimed by Modal, which expires Dict entries after 7 days idle.
    - Lock: an in-process ``asyncio.Lock`` first (parallel calls usually land on one container),
      then a lease ``lock:<id>`` taken with the atomic ``put(..., skip_if_exists=True)``. A lease
      left by a crashed container is taken over once ``lease_seconds`` have passed; that takeover
      is best effort (the Dict has no compare-and-delete), which is acceptable for a crash path.

    Only the ``.aio`` methods are used, so the event loop never blocks on a network round trip.
    """

    def __init__(
        self,
        modal_dict: Any,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.02,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dict = modal_dict
        self.ttl_seconds = ttl_seconds
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._local = InMemoryStateStore(ttl_seconds=ttl_seconds)

    @asynccontextmanager
    async def lock(self, trace_id: str) -> AsyncIterator[None]:
        async with self._local.lock(trace_id):
            key, owner = f"lock:{trace_id}", uuid.uuid4().hex
            while not await self._dict.put.aio(
                key, (owner, self._clock() + self.lease_seconds), skip_if_exists=True
            ):
                held = await self._dict.get.aio(key)
                if held is not None and held[1] < self._clock():
                    await self._dict.pop.aio(key, None)
                    continue
                await asyncio.sleep(self.poll_seconds)
            try:
                yield
            finally:
                await self._dict.pop.aio(key, None)

    async def load(self, trace_id: str) -> TraceRecord:
        record = await self.peek(trace_id)
        return record or TraceRecord(trace_id=trace_id, touched=self._clock())

    async def save(self, record: TraceRecord) -> None:
        record.touched = self._clock()
        await self._dict.put.aio(f"trace:{record.trace_id}", record)

    async def peek(self, trace_id: str) -> TraceRecord | None:
        record = await self._dict.get.aio(f"trace:{trace_id}")
        if record is None or self._clock() - record.touched > self.ttl_seconds:
            return None
        return record
