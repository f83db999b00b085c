"""What the readiness tester calls: a job's tools (URL, headers) and a probe call for each.

A job declares its tools as ``{name, server_url, headers}``; the trainer POSTs every call of tool
``name`` to that tool's ``server_url`` with those headers. The tester does the same, so it checks
the URLs the job will really use — one per tool (``{url}/tools/{name}``, or build-hours'
``{url}/search``) or one shared URL that dispatches on ``name`` (``{url}/call``).

A *probe* is the call the tester sends to a tool: example arguments and, when known, the output
they must give. With a known answer that differs per call (the course's calculator: ``n + 1``
answers ``n+1``) a reply meant for another rollout cannot pass; without one, crossed replies are
found by the echoed ``call_id`` and, where the service exposes them, its per-rollout trace logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rftkit.protocol import FunctionCall


@dataclass(frozen=True)
class ToolTarget:
    """One job tool: where the trainer POSTs its calls and the headers it sends.

    Headers stay out of the repr (they carry tokens); the URL in the repr has no userinfo.
    """

    name: str
    server_url: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return self.server_url.rstrip("/")

    @property
    def origin(self) -> str:
        """``scheme://host:port`` (userinfo kept for requests), where ``/healthz`` would live."""
        parts = urlsplit(self.server_url)
        return f"{parts.scheme}://{parts.netloc}"

    def request_headers(self, replace: Mapping[str, str] | None = None) -> dict[str, str]:
        """JSON content type plus the tool's headers (or ``replace`` instead of them)."""
        chosen = self.headers if replace is None else replace
        return {"Content-Type": "application/json", **chosen}

    def __repr__(self) -> str:
        from rftkit.secrets import strip_userinfo

        return f"ToolTarget(name={self.name!r}, server_url={strip_userinfo(self.server_url)!r})"


@dataclass(frozen=True)
class Probe:
    """A call the tester can send to tool ``name``: arguments for call number ``n``.

    ``expected`` gives the output call ``n`` must produce, when the caller knows it. ``generated``
    marks arguments made up from the tool's JSON schema: a 4xx to them may just mean the example
    was not meaningful (a file that does not exist), so it is a note, not a blocker. ``items`` are
    dataset lines sent as the call's ``item`` in turn, as the trainer sends the rollout's line
    (a service may need it, e.g. to pick the task's world); without them ``{"id": "probe-n"}``.
    ``before`` are the calls ``(tool, arguments)`` a stateful tool needs earlier in the same
    rollout (a refund after its order's lookup): the tester sends them first, under the same
    trace id and item, as one rollout of a stored scenario does.
    """

    name: str
    arguments: Callable[[int], dict[str, Any]]
    expected: Callable[[int], str] | None = None
    generated: bool = False
    items: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    before: tuple[tuple[str, dict[str, Any]], ...] = ()

    @classmethod
    def fixed(
        cls,
        name: str,
        arguments: Mapping[str, Any],
        *,
        generated: bool = False,
        before: tuple[tuple[str, dict[str, Any]], ...] = (),
    ) -> Probe:
        """The same arguments for every call (the output is not known in advance)."""
        frozen = dict(arguments)
        return cls(name, lambda n: dict(frozen), None, generated, before=before)

    def call(self, n: int, trace_id: str, call_id: str | None = None) -> dict[str, Any]:
        """The request body exactly as the trainer sends it (arguments as a JSON string)."""
        return FunctionCall(
            id=f"fc_{uuid.uuid4().hex[:12]}",
            call_id=call_id or f"call_{uuid.uuid4().hex[:12]}",
            name=self.name,
            arguments=self.arguments(n),
            trace_id=trace_id,
            item=self.items[n % len(self.items)] if self.items else {"id": f"probe-{n}"},
        ).model_dump(mode="json")


CALCULATOR_PROBE = Probe(
    name="calculator",
    arguments=lambda n: {"expression": f"{n} + 1"},
    expected=lambda n: str(n + 1),
)
"""The course service's calculator with known answers: ``calculator("n + 1")`` answers ``n+1``."""


def new_trace_id() -> str:
    """A rollout id shaped like the trainer's: ``trace_`` plus a unique hex id."""
    return f"trace_{uuid.uuid4().hex}"
