"""Benchmark: rollout-engine overhead against a bare httpx loop, and 500 concurrent rollouts.

Both measurements run against the real tool service (``tools_service``) under uvicorn on loopback,
with the scripted policy (no model: the point is the engine's own cost).

1. Overhead: the engine runs the scripted ``efficient`` policy over the course items; a bare
   ``httpx`` loop then makes exactly the same calls (same turns, parallel within a turn, same
   concurrency limit, one pooled client) with no policy, traces or grading. Median of ``--rounds``
   runs each; the ratio engine/bare is printed.
2. Burst: ``--burst`` rollouts (items x repeats) all in flight at once (``concurrency`` = burst),
   scripted ``efficient`` policy; reports rollouts, calls, statuses and errors.

Run:  PYTHONPATH=$PWD python benchmarks/rollouts.py [--items 100] [--repeats 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import httpx

from rftkit.course.scripted import ScriptedPolicy
from rftkit.course.session import course_session
from rftkit.protocol import FunctionCall, Trace
from rftkit.rollouts import run_rollouts, traces_frame


def exact_match(sample, item, trace_id) -> float:
    return float(sample.output_text.strip() == item["reference_answer"])


def call_plan(traces: list[Trace]) -> list[list[list[FunctionCall]]]:
    """Per rollout, per turn, the calls the engine made (to replay them without the engine)."""
    plans = []
    for trace in traces:
        turns = []
        for span in trace.spans:
            data = span.span_data
            if data.type == "generation" and data.tool_calls:
                turns.append(
                    [
                        FunctionCall(
                            call_id=c.id,
                            name=c.function.name,
                            arguments=c.function.arguments,
                            trace_id="trace_x",
                        )
                        for c in data.tool_calls
                    ]
                )
        plans.append(turns)
    return plans


async def bare_loop(plans, items, url: str, headers: dict, concurrency: int) -> tuple[float, int]:
    """The same calls with nothing but httpx: returns seconds and failed calls."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(
        max_connections=concurrency * 4, max_keepalive_connections=concurrency * 4
    )
    failures = 0

    async def rollout(turns, item):
        nonlocal failures
        trace_id = f"trace_{uuid.uuid4().hex}"
        async with gate:
            for turn in turns:
                bodies = [
                    c.model_copy(update={"trace_id": trace_id, "item": item}).model_dump_json()
                    for c in turn
                ]
                replies = await asyncio.gather(
                    *(client.post(url, content=b, headers=headers) for b in bodies)
                )
                failures += sum(r.status_code != 200 for r in replies)

    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(rollout(t, i) for t, i in zip(plans, items, strict=True)))
        return time.perf_counter() - started, failures


async def engine_run(items, policy, job_tools, repeats, concurrency) -> tuple[float, list[Trace]]:
    started = time.perf_counter()
    traces = await run_rollouts(
        items,
        policy,
        tools=job_tools,
        grader=exact_match,
        repeats=repeats,
        concurrency=concurrency,
        progress=False,
    )
    return time.perf_counter() - started, traces


def overhead(course, repeats: int, rounds: int, concurrency: int) -> None:
    items = course.items
    policy = ScriptedPolicy(items, "efficient")
    tool = course.job_tools[0]
    url, headers = tool.server_url, {"content-type": "application/json", **tool.headers}
    engine_s, bare_s = [], []
    for _ in range(rounds):
        seconds, traces = asyncio.run(
            engine_run(items, policy, course.job_tools, repeats, concurrency)
        )
        engine_s.append(seconds)
        frame = traces_frame(traces)
        assert frame["status"].eq("completed").all(), frame["status"].value_counts()
        plans = call_plan(traces)
        line_of = {line["task_id"]: line for line in items}
        replay_items = [line_of[t.item_id] for t in traces]
        seconds, failed = asyncio.run(bare_loop(plans, replay_items, url, headers, concurrency))
        assert failed == 0, f"{failed} bare calls failed"
        bare_s.append(seconds)
    rollouts, calls = len(traces), int(frame["tool_calls"].sum())
    engine, bare = statistics.median(engine_s), statistics.median(bare_s)
    print(
        f"\n## Engine overhead ({rollouts} rollouts, {calls} tool calls, concurrency "
        f"{concurrency}, median of {rounds})\n"
    )
    print("| runner | seconds | rollouts/s | calls/s |")
    print("| --- | --- | --- | --- |")
    for name, seconds in (
        ("rftkit engine (scripted-efficient)", engine),
        ("bare httpx loop", bare),
    ):
        print(f"| {name} | {seconds:.2f} | {rollouts / seconds:.0f} | {calls / seconds:.0f} |")
    print(f"\nratio engine / bare: {engine / bare:.2f}x")


def burst(course, size: int) -> None:
    items = course.items
    repeats = -(-size // len(items))
    policy = ScriptedPolicy(items, "efficient")
    seconds, traces = asyncio.run(engine_run(items, policy, course.job_tools, repeats, size))
    traces = traces[:size] if len(traces) > size else traces
    frame = traces_frame(traces)
    statuses = json.dumps(frame["status"].value_counts().to_dict())
    print(f"\n## Burst: {len(traces)} rollouts in flight at once (scripted-efficient)\n")
    print("| rollouts | tool calls | tool errors | statuses | mean reward | seconds |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {len(traces)} | {int(frame['tool_calls'].sum())} | {int(frame['tool_errors'].sum())}"
        f" | {statuses} | {frame['reward'].mean():.3f} | {seconds:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--burst", type=int, default=500)
    args = parser.parse_args()
    with course_session(seed=0, style="full", n=args.items) as course:
        overhead(course, args.repeats, args.rounds, args.concurrency)
        burst(course, args.burst)


if __name__ == "__main__":
    main()
