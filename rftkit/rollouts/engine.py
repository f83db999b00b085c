"""The rollout engine: drive a policy against real tool endpoints and record every rollout.

For each (item, repeat) a fresh ``trace_id``; the policy proposes a final answer or tool calls; the
calls of one turn run concurrently, each POSTed in the trainer's wire format through one pooled
``httpx.AsyncClient``; their outputs are appended to the conversation; the loop ends on a final
answer or after ``max_episode_steps`` model turns; the final sample is graded. Every rollout becomes
a :class:`rftkit.protocol.Trace`.

Statuses: ``completed`` (final answer, graded), ``max_steps`` (still calling tools at the limit,
graded on what it said), ``discarded`` (a tool, the endpoint grader or the policy itself kept
failing: counted, never scored), ``timeout`` (over ``rollout_timeout``: counted with the
discards, never scored).

One rollout never takes its batch down: whatever a policy, a tool call or a grader raises ends in
that rollout's trace (a grader's failure as a 0 score with its error flag, see ``grading``;
anything else as ``discarded`` with the error), and the other rollouts run on.

Example::

    traces = await run_rollouts(items, policy, tools=job_tools, grader=grader, repeats=4)
    traces = run_rollouts_sync(items, policy, tools=job_tools, grader=grader)  # in a notebook
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError
from tqdm.auto import tqdm

from rftkit._util.background import BackgroundLoop
from rftkit._util.jsonsafe import well_formed
from rftkit.outbound import async_client
from rftkit.protocol import (
    FunctionCall,
    FunctionCallItem,
    FunctionCallOutput,
    FunctionSpanData,
    FunctionSpec,
    GenerationSpanData,
    JobTool,
    RolloutStatus,
    Sample,
    Span,
    ToolCall,
    Trace,
)

from .grading import Grader, describe, grade
from .policy import Policy, PolicyTurn, ToolCallRequest
from .toolcalls import CallOutcome, ToolRouter, error_body

MESSAGE_KEYS = ("role", "content")
T = TypeVar("T")


def new_trace_id() -> str:
    """``trace_`` plus a random hex id, the shape the trainer uses."""
    return f"trace_{uuid.uuid4().hex}"


def initial_conversation(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dataset line's messages as Responses-API input items (role and content only)."""
    if not isinstance(item, Mapping):
        kind = type(item).__name__
        raise ValueError(f"an item must be a JSON object (a dataset line), not {kind}")
    messages = item.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError(
            f"item {item_id_of(item, None)!r}: 'messages' must be a non-empty list of messages"
        )
    for position, message in enumerate(messages):
        if not isinstance(message, Mapping) or any(key not in message for key in MESSAGE_KEYS):
            raise ValueError(
                f"item {item_id_of(item, None)!r}: messages[{position}] needs 'role' and 'content'"
            )
    return [{key: message[key] for key in MESSAGE_KEYS} for message in messages]


def item_id_of(item: Mapping[str, Any], index: int | None) -> str | None:
    """The line's ``task_id`` (or ``id``), else its position: what traces and tables call it."""
    for key in ("task_id", "id"):
        if isinstance(item.get(key), str):
            return item[key]
    return None if index is None else str(index)


def lines_by_id(items: Sequence[Mapping[str, Any]]) -> dict[str | None, Mapping[str, Any]]:
    """The lines of one ``run_rollouts`` call under the ids its traces carry."""
    return {item_id_of(item, n): item for n, item in enumerate(items)}


@dataclass
class _Rollout:
    """The mutable state of one rollout while it runs."""

    trace_id: str
    item: dict[str, Any]
    conversation: list[dict[str, Any]]
    spans: list[Span] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    final_text: str = ""

    def record_call(self, request: ToolCallRequest) -> None:
        """The call as the model made it: in the conversation and in ``sample.output_tools``."""
        item = FunctionCallItem(
            call_id=request.call_id, name=request.name, arguments=request.arguments
        )
        self.conversation.append(item.as_item())
        self.tool_calls.append(
            ToolCall(
                id=request.call_id,
                function=FunctionSpec(name=request.name, arguments=request.arguments),
            )
        )

    def sample(self) -> Sample:
        """The final sample, with the rollout's ``trajectory``: its model turns, reasoning tokens
        and turns with several calls (an rftkit extension that latency graders read)."""
        turns = [s.span_data for s in self.spans if isinstance(s.span_data, GenerationSpanData)]
        trajectory = {
            "turns": len(turns),
            "reasoning_tokens": sum(t.usage.reasoning_tokens for t in turns),
            "parallel_turns": sum(len(t.tool_calls) > 1 for t in turns),
        }
        return Sample.from_text(self.final_text, self.tool_calls, trajectory=trajectory)

    def span(
        self,
        started: float,
        data: GenerationSpanData | FunctionSpanData,
        ended: float | None = None,
    ) -> None:
        span_id = f"span_{len(self.spans):03d}"
        self.spans.append(
            Span(
                trace_id=self.trace_id,
                span_id=span_id,
                started_at=started,
                ended_at=time.time() if ended is None else ended,
                span_data=data,
            )
        )


class RolloutEngine:
    """Runs rollouts with one pooled HTTP client; use :func:`run_rollouts` unless you need it."""

    def __init__(
        self,
        policy: Policy,
        router: ToolRouter,
        grader: Grader,
        client: httpx.AsyncClient,
        *,
        max_episode_steps: int,
        call_timeout: float,
        retry_backoff: float,
    ) -> None:
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be at least 1, got {max_episode_steps}")
        self.policy = policy
        self.router = router
        self.grader = grader
        self.client = client
        self.max_episode_steps = max_episode_steps
        self.call_timeout = call_timeout
        self.retry_backoff = retry_backoff

    async def run(
        self, item: dict[str, Any], *, item_id: str | None, repeat: int, rollout_timeout: float
    ) -> Trace:
        """One rollout, start to graded trace; tool and grader trouble end up in the trace."""
        state = _Rollout(new_trace_id(), item, initial_conversation(item))
        started = time.time()
        status: RolloutStatus
        error: str | None = None
        reward: float | None = None
        grader_result: dict[str, Any] | None = None
        sample: Sample | None = None
        try:
            async with asyncio.timeout(rollout_timeout):
                status, error = await self._episode(state)
                sample = state.sample()
                if status != "discarded":
                    graded = await grade(
                        self.grader,
                        sample,
                        item,
                        state.trace_id,
                        self.client,
                        timeout=self.call_timeout,
                        retry_backoff=self.retry_backoff,
                    )
                    reward, grader_result, error = graded.reward, graded.result, graded.error
                    if graded.discard:
                        status = "discarded"
        except TimeoutError:
            status, reward, grader_result = "timeout", None, None
            error = f"rollout exceeded {rollout_timeout:g} s"
            sample = state.sample()
        except Exception as exc:  # a bug or a hostile output somewhere: this rollout only
            status, reward, grader_result = "discarded", None, None
            error = f"rollout failed: {describe(exc)}"
        return Trace(
            trace_id=state.trace_id,
            item_id=item_id,
            repeat=repeat,
            policy=self.policy.name,
            status=status,
            started_at=started,
            ended_at=time.time(),
            spans=state.spans,
            sample=sample,
            reward=reward,
            grader_result=grader_result,
            error=error,
        )

    async def _episode(self, state: _Rollout) -> tuple[RolloutStatus, str | None]:
        tools = state.item.get("tools") or []
        for step in range(1, self.max_episode_steps + 1):
            started = time.time()
            try:
                turn = _well_formed_turn(
                    await self.policy.next_turn(
                        list(state.conversation), tools, trace_id=state.trace_id
                    )
                )
                generation = _generation_span(turn)
            except Exception as exc:  # the model API down after its own retries, or a bad turn
                return "discarded", f"policy {self.policy.name} failed: {describe(exc)}"
            state.span(started, generation)
            state.final_text = turn.text
            if turn.text:
                state.conversation.append({"role": "assistant", "content": turn.text})
            if turn.is_final:
                return "completed", None
            if step == self.max_episode_steps:  # out of steps: these calls are never made
                return "max_steps", None
            for request in turn.tool_calls:
                state.record_call(request)
            async with asyncio.TaskGroup() as group:
                calls = [group.create_task(self._call(state, c)) for c in turn.tool_calls]
            # spans in the order the model asked for the calls, not the order they answered in,
            # so the same samples give the same trace (and patterns) however the calls race
            outcomes = [call.result() for call in calls]
            for _, started, ended, data in outcomes:
                state.span(started, data, ended)
            for request, (outcome, *_) in zip(turn.tool_calls, outcomes, strict=True):
                if outcome.discard:
                    return "discarded", outcome.error
                answer = FunctionCallOutput(call_id=request.call_id, output=outcome.output or "")
                state.conversation.append(answer.as_item())
        raise AssertionError("unreachable: the last step returns")

    async def _call(
        self, state: _Rollout, request: ToolCallRequest
    ) -> tuple[CallOutcome, float, float, FunctionSpanData]:
        """POST one call; its outcome, start, end and span data. Arguments that are not JSON go
        back to the model.

        Never raises: anything unexpected discards the rollout (like a tool that keeps failing)
        instead of cancelling its sibling calls and escaping the batch.
        """
        started = time.time()
        try:
            outcome = await self._outcome(state, request)
        except Exception as exc:
            message = f"{request.name}: call failed in the engine: {describe(exc)}"
            outcome = CallOutcome(None, None, 0, message, discard=True)
        data = FunctionSpanData(
            name=request.name,
            call_id=request.call_id,
            input=request.arguments,
            output=outcome.output,
            status_code=outcome.status_code,
            attempts=outcome.attempts,
            error=outcome.error,
        )
        return outcome, started, time.time(), data

    async def _outcome(self, state: _Rollout, request: ToolCallRequest) -> CallOutcome:
        try:
            call = FunctionCall(
                id=f"fc_{uuid.uuid4().hex[:24]}",
                call_id=request.call_id,
                name=request.name,
                arguments=request.arguments,
                trace_id=state.trace_id,
                item=state.item,
            )
        except ValidationError as exc:
            message = f"arguments of {request.name}: {exc.errors()[0]['msg']}"
            return CallOutcome(
                error_body("invalid_arguments", message, "arguments"), None, 0, message
            )
        return await self.router.call(call)


def _well_formed_turn(turn: PolicyTurn) -> PolicyTurn:
    """The turn with lone surrogates replaced (U+FFFD) in its text and calls, so that the trace,
    the tool call and the grader request can all be written as JSON."""
    calls = [
        ToolCallRequest(well_formed(c.call_id), well_formed(c.name), well_formed(c.arguments))
        for c in turn.tool_calls
    ]
    return dataclasses.replace(turn, text=well_formed(turn.text), tool_calls=calls)


def _generation_span(turn: PolicyTurn) -> GenerationSpanData:
    return GenerationSpanData(
        model=turn.model or None,
        output_text=turn.text,
        tool_calls=[
            ToolCall(id=c.call_id, function=FunctionSpec(name=c.name, arguments=c.arguments))
            for c in turn.tool_calls
        ],
        usage=turn.usage,
    )


async def run_rollouts(
    items: Sequence[dict[str, Any]],
    policy: Policy,
    *,
    tools: Sequence[JobTool | Mapping[str, Any]],
    grader: Grader,
    repeats: int = 1,
    max_episode_steps: int = 10,
    concurrency: int = 32,
    call_timeout: float = 60.0,
    rollout_timeout: float = 600.0,
    retry_backoff: float = 0.1,
    progress: bool = True,
    reached: Counter[str] | None = None,
) -> list[Trace]:
    """Run every item ``repeats`` times; return one trace per rollout, in (item, repeat) order.

    ``tools`` maps tool names to endpoints exactly like a job's ``method.reinforcement.tools``.
    ``reached``, when given, counts per tool name the requests its URL answered
    (``ToolRouter.reached``).
    At most ``concurrency`` rollouts run at once; cancelling the call cancels them all and closes
    the HTTP pool.
    """
    if repeats < 1 or concurrency < 1:
        raise ValueError(f"repeats and concurrency must be at least 1 ({repeats}, {concurrency})")
    for index, item in enumerate(items):  # fail before any request, naming the bad line
        try:
            initial_conversation(item)
        except ValueError as exc:
            raise ValueError(f"items[{index}]: {exc}") from None
    limits = httpx.Limits(
        max_connections=concurrency * 4, max_keepalive_connections=concurrency * 4
    )
    jobs = [(index, repeat) for index in range(len(items)) for repeat in range(repeats)]
    gate = asyncio.Semaphore(concurrency)
    bar = tqdm(
        total=len(jobs), desc=f"rollouts ({policy.name})", unit="rollout", disable=not progress
    )
    not_scored = 0

    async with async_client(limits=limits, timeout=call_timeout) as client:
        router = ToolRouter(
            tools, client, call_timeout=call_timeout, retry_backoff=retry_backoff, reached=reached
        )
        engine = RolloutEngine(
            policy,
            router,
            grader,
            client,
            max_episode_steps=max_episode_steps,
            call_timeout=call_timeout,
            retry_backoff=retry_backoff,
        )

        async def one(index: int, repeat: int) -> Trace:
            nonlocal not_scored
            async with gate:
                item = items[index]
                trace = await engine.run(
                    item,
                    item_id=item_id_of(item, index),
                    repeat=repeat,
                    rollout_timeout=rollout_timeout,
                )
            not_scored += trace.reward is None
            bar.update(1)
            bar.set_postfix(not_scored=not_scored, refresh=False)
            return trace

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(index, repeat)) for index, repeat in jobs]
        finally:
            bar.close()
    return [task.result() for task in tasks]


def run_rollouts_sync(
    items: Sequence[dict[str, Any]], policy: Policy, **options: Any
) -> list[Trace]:
    """:func:`run_rollouts` from synchronous code, including a notebook whose loop is running."""
    return run_blocking(run_rollouts(items, policy, **options))


_loop = BackgroundLoop("rftkit-rollouts")


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end on the rollouts' long-lived background event loop."""
    return _loop.run(coroutine)
