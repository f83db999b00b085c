"""Stored probes made from calls that really succeeded: the reference solver's or a baseline's.

A task's ``probes`` (:class:`rftkit.task.ProbeCall` scenarios) must be calls the tools accept,
with the calls a stateful tool needs before it in the same rollout. The best source is what
already worked: the reference solver's calls for a few lines (each line's calls are one scenario,
replayed in order under one trace id) or, without a solver, a baseline's rollouts, keeping only
the calls answered 2xx, in the order they were made.

Scenarios are chosen to cover the tools: one that adds a tool not yet covered is kept, up to
``limit``; duplicates are dropped. Example::

    task.probes = probes_from_solver(solve, task.items("train"))
    task.probes = probes_from_traces(baseline.traces)
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from rftkit.protocol import Trace
from rftkit.rollouts.solver import Solver
from rftkit.task import ProbeCall

DEFAULT_LIMIT = 5


def choose_scenarios(
    candidates: Iterable[Sequence[tuple[str, Mapping[str, Any]]]], limit: int = DEFAULT_LIMIT
) -> list[list[ProbeCall]]:
    """Up to ``limit`` distinct scenarios, each kept only if it calls a tool none before did."""
    chosen: list[list[ProbeCall]] = []
    covered: set[str] = set()
    seen: set[str] = set()
    for calls in candidates:
        scenario = [ProbeCall(name=name, arguments=dict(arguments)) for name, arguments in calls]
        key = json.dumps([c.model_dump() for c in scenario], sort_keys=True)
        names = {c.name for c in scenario}
        if not scenario or key in seen or names <= covered:
            continue
        seen.add(key)
        covered |= names
        chosen.append(scenario)
        if len(chosen) == limit:
            break
    return chosen


def probes_from_solver(
    solve: Solver, lines: Iterable[dict[str, Any]], limit: int = DEFAULT_LIMIT
) -> list[list[ProbeCall]]:
    """Scenarios from the reference solver's calls for ``lines`` (each line's calls in order)."""
    return choose_scenarios((solve(line).calls for line in lines), limit)


def probes_from_traces(
    traces: Iterable[Trace],
    limit: int = DEFAULT_LIMIT,
    item_ids: Collection[str] | None = None,
) -> list[list[ProbeCall]]:
    """Scenarios from a baseline's rollouts: each rollout's calls answered 2xx, in order (calls
    whose arguments were not a JSON object are skipped). ``item_ids`` keeps only rollouts of
    those lines: a service that reads its task from the call's item (the course's picks a world)
    answers a call only with the item it was made for, and a check sends its own lines."""
    if item_ids is not None:
        traces = [t for t in traces if str(t.item_id) in item_ids]

    def succeeded(trace: Trace) -> list[tuple[str, dict[str, Any]]]:
        calls = []
        for span in trace.function_spans:
            data = span.span_data
            if data.status_code is None or not 200 <= data.status_code < 300:
                continue
            try:
                arguments = json.loads(data.input)
            except json.JSONDecodeError:
                continue
            if isinstance(arguments, dict):
                calls.append((data.name, arguments))
        return calls

    return choose_scenarios((succeeded(t) for t in traces), limit)
