"""What the readiness tester calls: an endpoint (URL, token) and a probe call it can verify.

The tester works on any tool endpoint that speaks the Agent RFT wire format, so it only needs
one call whose correct output it can compute — the *probe*. For the course's service that is the
calculator (``n + 1`` answers ``n+1``), which also makes crossed replies between rollouts visible:
every call asks a different question, so a reply meant for another call has the wrong answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rftkit.protocol import FunctionCall


@dataclass(frozen=True)
class Endpoint:
    """A tool endpoint: ``base_url`` serves ``POST {call_path}`` and a URL per tool.

    ``tool_path`` is the per-tool URL's template (``/tools/{name}`` for rftkit's service,
    ``/{name}`` for servers that expose ``/search`` and the like directly).

    The token is kept out of the repr so a printed report never shows it.
    """

    base_url: str
    token: str | None = field(default=None, repr=False)
    call_path: str = "/call"
    tool_path: str = "/tools/{name}"
    timeout: float = 10.0

    def headers(self, token: str | None | bool = True) -> dict[str, str]:
        """Authorization header: the endpoint's token (True), none (None/False), or a given one."""
        chosen = self.token if token is True else token or None
        return {"Authorization": f"Bearer {chosen}"} if chosen else {}

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/")


@dataclass(frozen=True)
class Probe:
    """A tool call with a known answer: arguments and expected output for call number ``n``."""

    name: str
    arguments: Callable[[int], dict[str, Any]]
    expected: Callable[[int], str]

    def call(self, n: int, trace_id: str, call_id: str | None = None) -> dict[str, Any]:
        """The request body exactly as the trainer sends it (arguments as a JSON string)."""
        return FunctionCall(
            id=f"fc_{uuid.uuid4().hex[:12]}",
            call_id=call_id or f"call_{uuid.uuid4().hex[:12]}",
            name=self.name,
            arguments=self.arguments(n),
            trace_id=trace_id,
            item={"id": f"probe-{n}"},
        ).model_dump(mode="json")


CALCULATOR_PROBE = Probe(
    name="calculator",
    arguments=lambda n: {"expression": f"{n} + 1"},
    expected=lambda n: str(n + 1),
)
"""The course service's probe: ``calculator("n + 1")`` answers ``n+1``."""


def new_trace_id() -> str:
    """A rollout id shaped like the trainer's: ``trace_`` plus a unique hex id."""
    return f"trace_{uuid.uuid4().hex}"
