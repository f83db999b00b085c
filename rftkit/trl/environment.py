"""The task as a TRL environment: one instance per rollout, tools POSTed in the Agent RFT format.

``GRPOTrainer(environment_factory=task_environment(task))`` gets a class whose public methods are
the task's tools, generated from the dataset lines' specs (:mod:`rftkit.trl.toolmethods`). TRL
keeps a pool of instances and calls ``reset(**row)`` at the start of every rollout; that is where
the rollout's fresh ``trace_id`` is minted and the dataset line becomes its ``item``. Each tool
call is then a :class:`rftkit.protocol.FunctionCall` sent through the kit's
:class:`~rftkit.rollouts.toolcalls.ToolRouter` to the task's ``server_url`` with its headers, so
the same tool service answers TRL, the local engine and the hosted trainers.

Failure semantics (those of the hosted trainer, docs/hosted-api.md §4.3):

- 4xx: the body is what the model reads (the router returns it);
- 5xx, connection errors, per-call timeouts: retried 3 times by the router; if the last attempt
  fails the rollout is **discarded**: no further call of it reaches the network, and its reward is
  None (:mod:`rftkit.trl.rewards`), which TRL 1.16 turns into NaN, leaves out of the group's
  mean/std and gives an advantage of exactly 0 (``GRPOTrainer._generate_and_score_completions``:
  "unscorable" rows). With TRL's default ``beta=0`` its tokens then carry no gradient; they still
  count in the token normaliser of the ``dapo`` loss, which only rescales the step;
- a rollout that runs past ``rollout_timeout`` seconds (from ``reset``) is discarded the same way.

TRL cannot stop a rollout's generation midway, so a discarded rollout's later turns are generated
and shown "rollout discarded" as each tool's answer; they are never scored.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from rftkit.background import BackgroundLoop
from rftkit.protocol import FunctionCall, FunctionSpec, JobTool, ToolCall
from rftkit.rollouts.engine import new_trace_id
from rftkit.rollouts.toolcalls import CallOutcome, ToolRouter, error_body
from rftkit.task import RFTTask
from rftkit.trl.toolmethods import spec_function, task_tool_specs, tool_method

ITEM_COLUMN = "rft_item"
"""The dataset column holding the whole RFT line as JSON (what tools and graders receive)."""
SPLIT_COLUMN = "rft_split"
"""The dataset column naming the split ("train" or "validation") a row comes from."""
DISCARDED_OUTPUT = "rollout discarded: {reason}"


@dataclass(frozen=True)
class CallRecord:
    """One tool call of a rollout, for the metrics (never the headers)."""

    name: str
    status_code: int | None
    attempts: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Rollout:
    """The state of the rollout an environment instance is running."""

    trace_id: str
    item: dict[str, Any]
    started: float
    calls: list[CallRecord] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    discarded: str | None = None


class ToolTransport:
    """One pooled HTTP client and router for every instance of an environment class; calls run on
    a background loop because TRL calls synchronous tools from its training thread."""

    def __init__(self, tools: list[JobTool], *, call_timeout: float, retry_backoff: float):
        self.tools = tools
        self.call_timeout = call_timeout
        self.retry_backoff = retry_backoff
        self._loop = BackgroundLoop("rftkit-trl-tools")
        self._router: ToolRouter | None = None

    def call(self, call: FunctionCall, budget: float) -> CallOutcome | None:
        """The router's outcome, or None when ``budget`` seconds ran out first."""
        return self._loop.run(self._call(call, budget))

    async def _call(self, call: FunctionCall, budget: float) -> CallOutcome | None:
        if self._router is None:  # created on the loop that will use it
            client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256))
            self._router = ToolRouter(
                self.tools,
                client,
                call_timeout=self.call_timeout,
                retry_backoff=self.retry_backoff,
            )
        try:
            async with asyncio.timeout(budget):
                return await self._router.call(call)
        except TimeoutError:
            return None


class TaskEnvironment:
    """Base of the generated environment classes; see the module docstring."""

    _transport: ToolTransport
    _rollout_timeout: float

    def __init__(self) -> None:
        self._rollout: Rollout | None = None

    def reset(self, **row: Any) -> None:
        """Start a rollout of the dataset line in ``row[ITEM_COLUMN]`` with a fresh trace id."""
        if not isinstance(row.get(ITEM_COLUMN), str):
            raise ValueError(
                f"dataset row has no {ITEM_COLUMN!r} column: build the dataset with "
                "rftkit.trl.trainer.task_dataset"
            )
        self._rollout = Rollout(new_trace_id(), json.loads(row[ITEM_COLUMN]), time.monotonic())
        return None

    def _call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        rollout = self._rollout
        if rollout is None:
            raise RuntimeError("a tool was called before reset(): TRL resets every rollout first")
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        rollout.tool_calls.append(
            ToolCall(id=call_id, function=FunctionSpec(name=name, arguments=json.dumps(arguments)))
        )
        if rollout.discarded is not None:
            return DISCARDED_OUTPUT.format(reason=rollout.discarded)
        budget = self._rollout_timeout - (time.monotonic() - rollout.started)
        call = FunctionCall(
            id=f"fc_{uuid.uuid4().hex[:24]}",
            call_id=call_id,
            name=name,
            arguments=arguments,
            trace_id=rollout.trace_id,
            item=rollout.item,
        )
        outcome = self._transport.call(call, budget) if budget > 0 else None
        if outcome is None:
            rollout.discarded = f"rollout exceeded {self._rollout_timeout:g} s"
            rollout.calls.append(CallRecord(name, None, 0, rollout.discarded))
            return DISCARDED_OUTPUT.format(reason=rollout.discarded)
        rollout.calls.append(CallRecord(name, outcome.status_code, outcome.attempts, outcome.error))
        if outcome.discard:
            rollout.discarded = outcome.error or "a tool kept failing"
            return DISCARDED_OUTPUT.format(reason=rollout.discarded)
        return outcome.output if outcome.output is not None else error_body("empty", "no output")

    def _finish(self) -> Rollout:
        """The finished rollout (marked discarded when it ran out of time)."""
        rollout = self._rollout
        if rollout is None:
            raise RuntimeError("no rollout: reset() was never called on this environment")
        elapsed = time.monotonic() - rollout.started
        if rollout.discarded is None and elapsed > self._rollout_timeout:
            rollout.discarded = f"rollout exceeded {self._rollout_timeout:g} s"
        return rollout


def rollout_of(environment: TaskEnvironment) -> Rollout:
    """The rollout ``environment`` just ran (for the reward function and the metrics)."""
    return environment._finish()


def task_environment(
    task: RFTTask,
    env: Mapping[str, str] | None = None,
    *,
    call_timeout: float = 60.0,
    rollout_timeout: float = 600.0,
    retry_backoff: float = 0.5,
) -> type[TaskEnvironment]:
    """The environment class for ``task``: pass it as ``environment_factory``.

    ``env`` resolves the tools' header references (default: the process environment); a missing
    variable is named, its value never. Every tool a dataset line offers must be configured in
    ``task.tools`` (its URL).
    """
    items = task.items("train") + task.items("validation")
    specs = task_tool_specs(items)
    job_tools = task.job_tools(env)
    configured = {t.name for t in job_tools}
    offered = [spec_function(s)["name"] for s in specs]
    missing = [name for name in offered if name not in configured]
    if missing:
        raise ValueError(
            f"the dataset offers {', '.join(missing)} but task.tools gives no server_url for it"
        )
    namespace: dict[str, Any] = {
        "_transport": ToolTransport(
            job_tools, call_timeout=call_timeout, retry_backoff=retry_backoff
        ),
        "_rollout_timeout": rollout_timeout,
        "__doc__": f"The {task.name!r} task's tools as a TRL environment (one rollout each).",
    }
    for spec in specs:
        method = tool_method(spec, TaskEnvironment._call_tool)
        namespace[method.__name__] = method
    return type(f"{_class_name(task.name)}Environment", (TaskEnvironment,), namespace)


def _class_name(name: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in name).split()
    return "".join(w[:1].upper() + w[1:] for w in words) or "Task"
