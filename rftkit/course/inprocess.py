"""Quick in-process episodes for development checks of a checkpoint (no HTTP, no grader).

Training and the benchmark run rollouts through ``rftkit.rollouts`` against the tool service over
HTTP; this loop calls the same tool functions directly so a pre-training run can report a rough
accuracy in seconds. Its numbers are labelled in-process and never stand in for the benchmark's.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from rftkit.course.world import Task
from rftkit.local.policy import LocalModelPolicy
from rftkit.protocol import FunctionCallItem, FunctionCallOutput
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.registry import ToolContext, ToolInputError
from tools_service.tools import toolbox


@dataclass(frozen=True)
class EpisodeResult:
    task: Task
    answer: str
    tool_calls: int

    @property
    def correct(self) -> bool:
        return self.answer.strip() == self.task.answer


async def _episode(
    policy: LocalModelPolicy, task: Task, corpus: Corpus, trace_id: str, max_steps: int
) -> EpisodeResult:
    items: list[dict] = [{"role": "user", "content": task.question}]
    ctx = ToolContext(corpus=corpus, trace_id=trace_id)
    calls = 0
    for _ in range(max_steps):
        turn = await policy.next_turn(items, toolbox.specs(), trace_id=trace_id)
        if turn.is_final:
            policy.records.pop(trace_id, None)
            return EpisodeResult(task, turn.text, calls)
        for call in turn.tool_calls:
            calls += 1
            item = FunctionCallItem(call_id=call.call_id, name=call.name, arguments=call.arguments)
            output = _run_tool(ctx, call.name, call.arguments)
            items.append(item.as_item())
            items.append(FunctionCallOutput(call_id=call.call_id, output=output).as_item())
    policy.records.pop(trace_id, None)
    return EpisodeResult(task, "", calls)


def _run_tool(ctx: ToolContext, name: str, arguments: str) -> str:
    if name not in toolbox:
        return f"unknown tool {name!r}"
    try:
        decoded = json.loads(arguments)
        return toolbox[name](ctx, decoded if isinstance(decoded, dict) else {})
    except (ToolInputError, json.JSONDecodeError) as exc:
        return str(exc)


async def run_inprocess(
    policy: LocalModelPolicy, tasks: list[Task], corpus: Corpus, max_steps: int = 12
) -> list[EpisodeResult]:
    """Every task once, concurrently (so the policy batches them)."""
    return await asyncio.gather(
        *(_episode(policy, t, corpus, f"trace_inproc_{i}", max_steps) for i, t in enumerate(tasks))
    )
