"""Are a task's real tool URLs ready? The one place preflight asks ``rftkit.endpoints``.

Preflight needs ``ready``, ``blockers`` and ``notes`` for the job's tools as the trainer will call
them (resolved headers included). ``rftkit.endpoints`` is being rewritten to answer exactly that
(``check_tools(job_tools, specs, ...)``); until it lands, :func:`tool_readiness` uses the current
``check_endpoint``, which can only probe services with the course's ``calculator`` at ``/call``
and sends only a bearer token. Every other URL is reported as not checked, never as ready.
Switching is one change here: the body becomes ``check_tools(...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rftkit.endpoints import check_endpoint
from rftkit.protocol import JobTool


@dataclass(frozen=True)
class Readiness:
    """The verdict on a job's tools: ready means no blocker; notes are worth reading."""

    ready: bool
    blockers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def tool_readiness(
    job_tools: Sequence[JobTool],
    specs: Sequence[Mapping[str, Any]] = (),
    *,
    rollouts: int = 10,
    calls: int = 3,
) -> Readiness:
    """Contract check and a small burst against each tool URL, with the task's headers."""
    blockers: list[str] = []
    notes: list[str] = []
    by_url: dict[str, list[JobTool]] = {}
    for tool in job_tools:
        by_url.setdefault(tool.server_url, []).append(tool)
    for url, tools in by_url.items():
        names = {t.name for t in tools}
        headers = dict(tools[0].headers)
        auth = headers.pop("Authorization", "")
        if "calculator" not in names or not url.rstrip("/").endswith("/call"):
            notes.append(
                f"{url} ({', '.join(sorted(names))}): not checked; the current checker probes only "
                "the course's calculator at /call (the check built from a task's own tools comes "
                "with rftkit.endpoints.check_tools)"
            )
            continue
        if headers or (auth and not auth.startswith("Bearer ")):
            notes.append(f"{url}: only a bearer token is sent by the current checker")
        token = auth.removeprefix("Bearer ") or None
        report = check_endpoint(
            url.rstrip("/").removesuffix("/call"), token, rollouts=rollouts, calls=calls
        )
        reasons = report.failures()
        unreachable = any("no response" in reason for reason in reasons)
        for reason in reasons:
            # Its probe carries no dataset line, so a service that needs the line's fields
            # answers 4xx: only silence and discarded rollouts are sure blockers.
            if unreachable or "discarded" in reason:
                blockers.append(f"{url}: {reason}")
            else:
                notes.append(f"{url}: the current checker's probe (no dataset line) got {reason}")
    return Readiness(not blockers, blockers, notes)
