"""Are a task's real tool URLs ready? The one place preflight asks ``rftkit.endpoints``.

Preflight needs ``ready``, ``blockers`` and ``notes`` for the job's tools exactly as the trainer
will call them: each tool's own URL, the task's resolved headers, probes built from the dataset's
tool specs, and the dataset's lines sent as each call's ``item`` (a service that reads its task
from the line needs them). :func:`rftkit.endpoints.check_tools` answers that; this module keeps
preflight's view of it in one small type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rftkit.endpoints import check_tools
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
    items: Sequence[Mapping[str, Any]] = (),
    rollouts: int = 10,
    calls: int = 3,
) -> Readiness:
    """Contract check and a burst of ``rollouts`` against each tool URL, with the task's headers."""
    report = check_tools(job_tools, specs, items=items, rollouts=rollouts, calls=calls)
    return Readiness(report.ready, list(report.blockers), list(report.notes))
