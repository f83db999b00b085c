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
- a rollout whose own clock passes ``rollout_timeout`` seconds is discarded the same way. The
  clock runs only while one of that rollout's tool calls is in flight (generation is batched
  across rollouts, so its time is no rollout's fault), so one slow endpoint discards only the
  rollouts that waited on it.

**Concurrency.** TRL 1.16's ``GRPOTrainer`` calls the tools of a turn one rollout after another.
:class:`rftkit.trl.trainer.TaskGRPOTrainer` hands each turn's batch (``environments`` and
``completions``) to the transport (:meth:`ToolTransport.batch`); the first tool call of the turn
then starts every rollout's pending calls at once on the background loop, and each rollout's
method only collects its own answers. Without the trainer (a direct call) a call runs alone.
Calls of one turn go out together, so when one of them is retried to exhaustion its siblings in
the same turn have already been sent; no call of a later turn is.

TRL cannot stop a rollout's generation midway, so a discarded rollout's later turns are generated
and shown "rollout discarded" as each tool's answer; they are never scored.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from rftkit._util.background import BackgroundLoop
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
    calls: list[CallRecord] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    discarded: str | None = None
    busy: list[tuple[float, float]] = field(default_factory=list)
    """(start, end) of each of its tool calls: the rollout's clock is their union."""
    pending: list[tuple[str, str, str, Future]] = field(default_factory=list)
    """Calls started ahead by the turn's batch: (name, arguments as JSON, call id, future)."""

    def clock(self) -> float:
        """Seconds during which at least one of this rollout's calls was in flight."""
        spans = sorted(self.busy)
        total, end = 0.0, -math.inf
        for start, stop in spans:
            start = max(start, end)
            if stop > start:
                total += stop - start
                end = stop
        return total


Timed = tuple[CallOutcome | None, float, float]
"""A call's outcome (None: out of time) and its (start, end) on the monotonic clock."""


class ToolTransport:
    """One pooled HTTP client and router for every instance of an environment class; calls run on
    a background loop because TRL calls synchronous tools from its training thread."""

    def __init__(self, tools: list[JobTool], *, call_timeout: float, retry_backoff: float):
        self.tools = tools
        self.names = {t.name for t in tools}
        self.call_timeout = call_timeout
        self.retry_backoff = retry_backoff
        self._loop = BackgroundLoop("rftkit-trl-tools")
        self._router: ToolRouter | None = None
        self._batch: tuple[Sequence[Any], Sequence[Any]] | None = None
        self._started: set[int] = set()

    def start(self, call: FunctionCall, budget: float) -> Future[Timed]:
        """Start ``call`` with ``budget`` seconds; the future gives :data:`Timed`."""
        return self._loop.submit(self._call(call, budget))

    async def _call(self, call: FunctionCall, budget: float) -> Timed:
        if self._router is None:  # created on the loop that will use it
            client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256))
            self._router = ToolRouter(
                self.tools,
                client,
                call_timeout=self.call_timeout,
                retry_backoff=self.retry_backoff,
            )
        start = time.monotonic()
        try:
            async with asyncio.timeout(budget):
                outcome = await self._router.call(call)
        except TimeoutError:
            outcome = None
        return outcome, start, time.monotonic()

    @contextmanager
    def batch(self, environments: Sequence[Any], completions: Sequence[Any]) -> Iterator[None]:
        """While TRL runs a batch's tool loop: ``completions[i]`` is rollout ``i``'s messages so
        far, ``environments[i]`` its environment (TRL's indexing)."""
        self._batch, self._started = (environments, completions), set()
        try:
            yield
        finally:
            self._batch = None

    def start_turn(self) -> None:
        """Start every rollout's not-yet-started calls of its last assistant message."""
        if self._batch is None:
            return
        environments, completions = self._batch
        for environment, messages in zip(environments, completions, strict=False):
            last = messages[-1] if messages else None
            if not isinstance(last, dict) or last.get("role") != "assistant":
                continue
            if id(last) in self._started or not isinstance(environment, TaskEnvironment):
                continue
            self._started.add(id(last))
            for tool_call in last.get("tool_calls") or []:
                function = tool_call.get("function") or {}
                name, arguments = function.get("name"), function.get("arguments")
                if name in self.names and isinstance(arguments, dict):
                    environment._start(name, arguments)


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
        self._rollout = Rollout(new_trace_id(), json.loads(row[ITEM_COLUMN]))
        return None

    def _function_call(self, rollout: Rollout, call_id: str, name: str, arguments: dict) -> Any:
        return FunctionCall(
            id=f"fc_{uuid.uuid4().hex[:24]}",
            call_id=call_id,
            name=name,
            arguments=arguments,
            trace_id=rollout.trace_id,
            item=rollout.item,
        )

    def _start(self, name: str, arguments: dict[str, Any]) -> None:
        """Start a call ahead of TRL asking for it (the turn's batch, see the module doc)."""
        rollout = self._rollout
        if rollout is None or rollout.discarded is not None:
            return
        budget = self._rollout_timeout - rollout.clock()
        if budget <= 0:
            return
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        future = self._transport.start(
            self._function_call(rollout, call_id, name, arguments), budget
        )
        rollout.pending.append((name, _key(arguments), call_id, future))

    def _call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        rollout = self._rollout
        if rollout is None:
            raise RuntimeError("a tool was called before reset(): TRL resets every rollout first")
        self._transport.start_turn()
        started = next(
            (p for p in rollout.pending if p[0] == name and p[1] == _key(arguments)), None
        )
        call_id = started[2] if started else f"call_{uuid.uuid4().hex[:24]}"
        rollout.tool_calls.append(
            ToolCall(id=call_id, function=FunctionSpec(name=name, arguments=json.dumps(arguments)))
        )
        if rollout.discarded is not None:
            return DISCARDED_OUTPUT.format(reason=rollout.discarded)
        if started is not None:
            rollout.pending.remove(started)
            future = started[3]
        else:
            budget = self._rollout_timeout - rollout.clock()
            if budget <= 0:
                return self._out_of_time(rollout, name)
            future = self._transport.start(
                self._function_call(rollout, call_id, name, arguments), budget
            )
        outcome, start, end = future.result()
        rollout.busy.append((start, end))
        if rollout.discarded is not None:  # another of its calls discarded it meanwhile
            return DISCARDED_OUTPUT.format(reason=rollout.discarded)
        if outcome is None:
            return self._out_of_time(rollout, name)
        rollout.calls.append(CallRecord(name, outcome.status_code, outcome.attempts, outcome.error))
        if outcome.discard:
            rollout.discarded = outcome.error or "a tool kept failing"
            return DISCARDED_OUTPUT.format(reason=rollout.discarded)
        return outcome.output if outcome.output is not None else error_body("empty", "no output")

    def _out_of_time(self, rollout: Rollout, name: str) -> str:
        rollout.discarded = f"rollout exceeded {self._rollout_timeout:g} s of tool time"
        rollout.calls.append(CallRecord(name, None, 0, rollout.discarded))
        return DISCARDED_OUTPUT.format(reason=rollout.discarded)

    def _finish(self) -> Rollout:
        """The finished rollout (marked discarded when its clock ran out)."""
        rollout = self._rollout
        if rollout is None:
            raise RuntimeError("no rollout: reset() was never called on this environment")
        if rollout.discarded is None and rollout.clock() > self._rollout_timeout:
            rollout.discarded = f"rollout exceeded {self._rollout_timeout:g} s of tool time"
        return rollout


def _key(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, default=str)


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
