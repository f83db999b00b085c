"""Trajectory grading: score how a rollout worked, from the tool service's own call log.

An Agent RFT ``endpoint`` grader receives ``{sample, item, trace_id}``. ``sample.output_tools`` on
the hosted service may hold only the final turn's calls (reference §11.5), so a dict grader's
efficiency term can miss most of what a rollout did. With the ``trace_id`` the grader can ask the
tool service (``GET /traces/{trace_id}``, every call in arrival order with its status) and score
the process itself:

- **correct** — the rubric's credit for the answer (``answer_closeness``, the course grader's);
- **evidence** — 1 when a ``read_file`` or ``search`` call *succeeded* before the answer (a call
  that failed with 4xx read nothing), 0.5 for an answer resting on no evidence (rubric rule 10);
- **efficiency** — ``min_tool_calls / calls`` over every logged call (1 at the minimum; fewer
  calls than the minimum fall linearly to 0, as the course grader's ``tool_efficiency``);
- **loops** — calls that repeat an earlier call exactly (same tool, same arguments): each halves
  the process score, since the answer to a repeated call is already in the conversation.

``reward = correct × evidence × (0.8 + 0.2 × efficiency × 0.5 ** loops)``: like the course
grader, a wrong answer scores 0 however it was reached and the process term only ranks right
answers. When the log cannot be had (the service restarted, the trace expired), the grader falls
back to ``sample.output_tools`` and says so in ``source``.

Example::

    grader = TrajectoryGrader(tools_url, {"Authorization": f"Bearer {token}"})
    score = await grader.score(GraderRequest(sample=sample, item=item, trace_id=trace_id))
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx

from rftkit.graders.sources import answer_closeness
from rftkit.protocol import GraderRequest, Sample

LOOKUPS = frozenset({"read_file", "search"})
EFFICIENCY_WEIGHT = 0.2


@dataclass(frozen=True)
class TrajectoryScore:
    """The parts of a trajectory's reward, and where the calls were read from."""

    correct: float
    evidence: float
    efficiency: float
    loops: int
    tool_errors: int
    calls: int
    source: Literal["tool_service", "sample"]

    @property
    def reward(self) -> float:
        process = self.efficiency * 0.5**self.loops
        return self.correct * self.evidence * (1 - EFFICIENCY_WEIGHT + EFFICIENCY_WEIGHT * process)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"reward": self.reward}


def calls_from_sample(sample: Sample) -> list[dict[str, Any]]:
    """``sample.output_tools`` in the call-log shape (status unknown: assumed answered)."""
    calls = []
    for call in sample.output_tools:
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError:
            arguments = call.function.arguments
        calls.append({"tool": call.function.name, "arguments": arguments, "status": 200})
    return calls


def score_trajectory(
    calls: list[Mapping[str, Any]],
    sample: Sample,
    item: Mapping[str, Any],
    source: Literal["tool_service", "sample"] = "tool_service",
) -> TrajectoryScore:
    """Score a rollout from its call log (``[{tool, arguments, status}, ...]`` in order)."""
    needed = int(item.get("min_tool_calls", 1) or 0)
    try:
        correct = float(answer_closeness.grade(sample.model_dump(), dict(item)))
    except (RecursionError, ValueError, TypeError, ArithmeticError):  # a policy's odd output: 0
        correct = 0.0
    looked = any(c.get("tool") in LOOKUPS and c.get("status") == 200 for c in calls)
    evidence = 1.0 if needed <= 0 or looked else 0.5
    made = len(calls)
    if needed <= 0:
        efficiency = 1.0 / (1 + made)
    elif made < needed:  # fewer calls than the evidence needs: the answer cannot rest on it
        efficiency = made / needed * 0.5
    else:
        efficiency = needed / made
    seen: set[str] = set()
    loops = 0
    for call in calls:
        key = json.dumps([call.get("tool"), call.get("arguments")], sort_keys=True, default=str)
        loops += key in seen
        seen.add(key)
    errors = sum(1 for c in calls if isinstance(c.get("status"), int) and 400 <= c["status"] < 500)
    return TrajectoryScore(correct, evidence, efficiency, loops, errors, made, source)


class TrajectoryGrader:
    """Scores graded requests by fetching their rollout's call log from the tool service."""

    def __init__(self, tools_url: str, headers: Mapping[str, str], *, timeout: float = 10.0):
        self.tools_url = tools_url.rstrip("/")
        self._headers = dict(headers)
        self.timeout = timeout

    def __repr__(self) -> str:  # the headers carry the tool service's token
        return f"TrajectoryGrader({self.tools_url!r}, headers=<{len(self._headers)} hidden>)"

    async def fetch_calls(self, trace_id: str) -> list[dict[str, Any]] | None:
        """The rollout's call log, or None when the service does not have it."""
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            try:
                response = await client.get(
                    f"{self.tools_url}/traces/{trace_id}", headers=self._headers
                )
            except httpx.HTTPError:
                return None
        if response.status_code != 200:
            return None
        calls = response.json().get("calls")
        return calls if isinstance(calls, list) else None

    async def score(self, request: GraderRequest) -> TrajectoryScore:
        calls = await self.fetch_calls(request.trace_id)
        if calls is None:
            return score_trajectory(calls_from_sample(request.sample), request.sample,
                                    request.item, "sample")  # fmt: skip
        return score_trajectory(calls, request.sample, request.item)
