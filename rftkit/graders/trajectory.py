"""Trajectory grading: score how a rollout worked, from the tool service's own call log.

An Agent RFT ``endpoint`` grader receives ``{sample, item, trace_id}``. ``sample.output_tools`` on
the hosted service may hold only the last turn's calls (docs/hosted-api.md §11.5), so a dict
grader's efficiency term can miss most of what a rollout did. With the ``trace_id`` the grader can
ask the tool service (``GET /traces/{trace_id}``, every call in arrival order with its status) and
score the process itself:

- **correct** — the credit for the answer: the course rubric's (``answer_closeness``) unless
  ``correct=`` names another ``grade(sample, item)`` (a project's own answer grader);
- **evidence** — 1 when a lookup call *succeeded* before the answer (a call that failed with 4xx
  read nothing), 0.5 for an answer resting on no evidence (rubric rule 10). Which tools look up
  evidence is ``lookups=`` (the course's ``read_file`` and ``search`` by default; a project's
  document search, for instance). With ``support=True`` (course tasks) it is the course's
  stricter ``answer_support`` over the calls that succeeded: every report in ``item.evidence``
  looked at, and a comparison's last sum not contradicting the answer — what
  ``course_grader_supported()`` checks, from every call even when the sample holds the last
  turn's only;
- **efficiency** — ``min_tool_calls / calls`` over every logged call (1 at the minimum; fewer
  calls than the minimum fall linearly to 0, as the course grader's ``tool_efficiency``);
- **loops** — calls that repeat an earlier call exactly (same tool, same arguments): each halves
  the process score, since the answer to a repeated call is already in the conversation.

``reward = correct × evidence × (0.8 + 0.2 × efficiency × 0.5 ** loops)``: like the course
grader, a wrong answer scores 0 however it was reached and the process term only ranks right
answers. When the log cannot be had (the service restarted, the trace expired), the grader falls
back to ``sample.output_tools`` and says so in ``source``.

Served as an ``endpoint`` grader with :func:`create_trajectory_grader_app` (the grader server's
auth, body limit and bounded queue), a job submits
``{"type": "endpoint", "url": ".../grade", "headers": {"Authorization": "Bearer ..."}}``.

Example::

    grader = TrajectoryGrader(tools_url, {"Authorization": f"Bearer {token}"})
    score = await grader.score(GraderRequest(sample=sample, item=item, trace_id=trace_id))
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
from fastapi import FastAPI

from rftkit.graders.server import create_grader_app
from rftkit.graders.sources import answer_closeness, answer_support
from rftkit.outbound import async_client
from rftkit.protocol import GraderRequest, Sample, Trace

Correctness = Callable[[dict[str, Any], dict[str, Any]], float]
"""A python grader's ``grade(sample, item)``: the answer's credit in [0, 1]."""

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


def _as_tool_calls(calls: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The log's answered calls in ``sample.output_tools``' shape, for a python grader source."""
    return [
        {
            "function": {
                "name": call.get("tool"),
                "arguments": json.dumps(arguments)
                if isinstance(arguments := call.get("arguments"), dict)
                else str(arguments or ""),
            }
        }
        for call in calls
        if call.get("status") == 200
    ]


def last_turn_sample(trace: Trace) -> Sample:
    """The rollout's sample as the hosted service may send it: ``output_tools`` cut to the calls
    of the last turn that made any (which calls the service sends is undocumented,
    docs/hosted-api.md §11.5)."""
    if trace.sample is None:
        raise ValueError(f"trace {trace.trace_id} has no sample (a discarded rollout?)")
    turns: list[set[str | None]] = []
    for span in trace.spans:
        if span.span_data.type == "generation":
            turns.append(set())
        elif turns:
            turns[-1].add(span.span_data.call_id)
    last = next((turn for turn in reversed(turns) if turn), set())
    kept = [call for call in trace.sample.output_tools if call.id in last]
    return trace.sample.model_copy(update={"output_tools": kept})


def score_trajectory(
    calls: list[Mapping[str, Any]],
    sample: Sample,
    item: Mapping[str, Any],
    source: Literal["tool_service", "sample"] = "tool_service",
    *,
    lookups: Collection[str] = LOOKUPS,
    correct: Correctness = answer_closeness.grade,
    support: bool = False,
) -> TrajectoryScore:
    """Score a rollout from its call log (``[{tool, arguments, status}, ...]`` in order).

    ``lookups`` are the tools whose successful call counts as reading evidence; ``correct``
    gives the answer's credit (clamped to [0, 1]; a credit it cannot give is 0); ``support``
    judges evidence with ``answer_support`` over the successful calls instead.
    """
    needed = int(item.get("min_tool_calls", 1) or 0)
    try:
        credit = float(correct(sample.model_dump(), dict(item)))
    except Exception:  # a policy's odd output, or a bug in `correct`: no credit
        credit = 0.0
    credit = min(1.0, max(0.0, credit)) if math.isfinite(credit) else 0.0
    calls = [c for c in calls if isinstance(c, Mapping)]
    looked = any(
        isinstance(c.get("tool"), str) and c["tool"] in lookups and c.get("status") == 200
        for c in calls
    )
    evidence = 1.0 if needed <= 0 or looked else 0.5
    if support and evidence == 1.0:
        evidence = answer_support.grade({"output_tools": _as_tool_calls(calls)}, dict(item))
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
    return TrajectoryScore(credit, evidence, efficiency, loops, errors, made, source)


class TrajectoryGrader:
    """Scores graded requests by fetching their rollout's call log from the tool service."""

    def __init__(
        self,
        tools_url: str,
        headers: Mapping[str, str],
        *,
        timeout: float = 10.0,
        lookups: Collection[str] = LOOKUPS,
        correct: Correctness = answer_closeness.grade,
        support: bool = False,
    ):
        self.tools_url = tools_url.rstrip("/")
        self.support = support
        self._headers = dict(headers)
        self.timeout = timeout
        self.lookups = frozenset(lookups)
        self.correct = correct

    def __repr__(self) -> str:  # the headers carry the tool service's token
        return f"TrajectoryGrader({self.tools_url!r}, headers=<{len(self._headers)} hidden>)"

    async def fetch_calls(self, trace_id: str) -> list[dict[str, Any]] | None:
        """The rollout's call log, or None when the service does not have it."""
        async with async_client(timeout=self.timeout) as client:
            try:
                response = await client.get(  # the id quoted whole: it names one trace only
                    f"{self.tools_url}/traces/{quote(trace_id, safe='')}", headers=self._headers
                )
            except httpx.HTTPError:
                return None
        if response.status_code != 200:
            return None
        try:
            calls = response.json().get("calls")
        except (ValueError, AttributeError):  # not JSON, or not an object
            return None
        return calls if isinstance(calls, list) else None

    async def score(self, request: GraderRequest) -> TrajectoryScore:
        calls = await self.fetch_calls(request.trace_id)
        source: Literal["tool_service", "sample"] = "tool_service"
        if calls is None:
            calls, source = calls_from_sample(request.sample), "sample"
        return score_trajectory(
            calls,
            request.sample,
            request.item,
            source,
            lookups=self.lookups,
            correct=self.correct,
            support=self.support,
        )

    async def reward(self, request: GraderRequest) -> float:
        """The reward alone: the scorer :func:`create_trajectory_grader_app` serves."""
        return (await self.score(request)).reward


def create_trajectory_grader_app(
    tools_url: str,
    tool_headers: Mapping[str, str],
    *,
    token: str | None,
    lookups: Collection[str] = LOOKUPS,
    correct: Correctness = answer_closeness.grade,
    support: bool = False,
    **limits: Any,
) -> FastAPI:
    """The trajectory grader as an ``endpoint`` grader: ``POST /grade`` behind bearer ``token``.

    ``tool_headers`` authenticate the grader to the tool service (its ``/traces`` route);
    ``limits`` go to :func:`~rftkit.graders.server.create_grader_app` (``deadline_s``,
    ``max_concurrent``, ``max_queued``).
    """
    grader = TrajectoryGrader(
        tools_url, tool_headers, lookups=lookups, correct=correct, support=support
    )
    return create_grader_app(scorer=grader.reward, token=token, **limits)
