"""Faults on purpose: a tool service that fails or stalls on some calls, to see what that costs.

During training the trainer retries a call that got a 5xx, a timeout or a dropped connection
(same ``call_id``, three retries) and discards the whole rollout when every attempt failed. A
readiness check on a healthy service never shows that happening; :func:`with_faults` wraps any
ASGI tool service so that it does, and the burst test shows the retries and discarded rollouts.

Which attempt fails is decided by a hash of ``(seed, call_id, attempt number)``, not by arrival
order: the same burst against the same faults loses the same rollouts every time, however the
requests interleave. The attempt number counts the requests seen with that ``call_id``, as a
retry reuses it. Only ``POST`` tool calls are touched (``/healthz``, ``/tools``, trace logs
answer as usual), and only those naming one of ``tools`` when given; a body over the wire
format's size limit is handed on unread, so the service's own guard refuses it as before. Meant
for tests and the course: it keeps a count per ``call_id`` it has seen, without bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from rftkit.protocol import MAX_PAYLOAD_BYTES

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

FAULT_CODE = "injected_fault"


@dataclass(frozen=True)
class Faults:
    """What goes wrong: a share of attempts answered ``status`` at once (``error_rate``), a share
    held ``delay_s`` seconds before being answered normally (``slow_rate``: a client whose
    timeout is shorter sees a timeout)."""

    error_rate: float = 0.0
    slow_rate: float = 0.0
    delay_s: float = 0.0
    status: int = 503
    seed: int = 0
    tools: Collection[str] = ()

    def __post_init__(self) -> None:
        for name in ("error_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Faults.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.delay_s < 0:
            raise ValueError(f"Faults.delay_s must be 0 or more, got {self.delay_s}")
        if not 500 <= self.status <= 599:
            raise ValueError(f"Faults.status must be a 5xx (what is retried), got {self.status}")

    def draw(self, kind: str, call_id: str, attempt: int) -> float:
        """A number in [0, 1) fixed by the seed, the fault's kind, the call and the attempt."""
        key = f"{self.seed}:{kind}:{call_id}:{attempt}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


class FaultyApp:
    """An ASGI app that answers like ``app`` except where ``faults`` say it fails or stalls."""

    def __init__(self, app: Any, faults: Faults) -> None:
        self.app = app
        self.faults = faults
        self.attempts: Counter[str] = Counter()  # requests seen per call_id
        self.injected: Counter[str] = Counter()  # "error" / "slow": how many were injected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more and len(body) <= MAX_PAYLOAD_BYTES:  # beyond it, the app's own guard answers
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        call_id, name = _call_of(body) if not more else (None, None)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # the rest of a large body, or the client's disconnect
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}

        if call_id is None or (self.faults.tools and name not in self.faults.tools):
            await self.app(scope, replay, send)
            return
        attempt = self.attempts[call_id]
        self.attempts[call_id] += 1
        if self.faults.draw("slow", call_id, attempt) < self.faults.slow_rate:
            self.injected["slow"] += 1
            await asyncio.sleep(self.faults.delay_s)
        if self.faults.draw("error", call_id, attempt) < self.faults.error_rate:
            self.injected["error"] += 1
            await _error(send, self.faults.status)
            return
        await self.app(scope, replay, send)


def with_faults(app: Any, **faults: Any) -> FaultyApp:
    """``app`` with :class:`Faults` (``error_rate``, ``slow_rate``, ``delay_s``, ``status``,
    ``seed``, ``tools``) injected into its tool calls."""
    return FaultyApp(app, Faults(**faults))


def _call_of(body: bytes) -> tuple[str | None, str | None]:
    """The request's ``call_id`` and tool name, or (None, None) for a body that is not a call."""
    try:
        call = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(call, dict) or not isinstance(call.get("call_id"), str):
        return None, None
    name = call.get("name")
    return call["call_id"], name if isinstance(name, str) else None


async def _error(send: Send, status: int) -> None:
    payload = {
        "error": {
            "message": "injected fault: the service failed this attempt on purpose",
            "code": FAULT_CODE,
        }
    }
    content = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
