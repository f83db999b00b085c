"""Call sequences for stateful tools: a scenario is one rollout's calls, replayed in order.

On the wire a tool's state lives per rollout (per ``trace_id``): a ``compute_refund`` may refuse
an order not looked up earlier in the same rollout. A probe sent on its own, under a fresh trace
id, is then refused although the tool works. So the readiness check takes *scenarios*, ordered
lists of calls ``[{"name", "arguments"}, ...]`` (a task's stored ``probes``, or
``rftkit endpoints check --sequence``): the contract check probes each tool with the calls before
its first appearance in a scenario sent first under the same trace id, and every burst rollout
replays one scenario, call after call, under its own trace id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from rftkit.endpoints.target import Probe
from rftkit.task import ProbeCall, parse_scenario

ScenarioLike = Sequence[Mapping[str, Any] | ProbeCall]


def as_scenarios(
    sequences: Sequence[ScenarioLike], where: str = "sequence"
) -> list[list[ProbeCall]]:
    """Each sequence checked (ValueError naming which one and which call is wrong)."""
    return [parse_scenario(list(s), f"{where} #{i}") for i, s in enumerate(sequences)]


def probes_from_scenarios(
    names: Sequence[str], scenarios: Sequence[Sequence[ProbeCall]]
) -> dict[str, Probe]:
    """A probe for each tool in ``names`` that a scenario calls: its first call there, with the
    calls before it in that scenario as ``before``."""
    probes: dict[str, Probe] = {}
    for scenario in scenarios:
        for index, call in enumerate(scenario):
            if call.name in names and call.name not in probes:
                before = tuple((c.name, dict(c.arguments)) for c in scenario[:index])
                probes[call.name] = Probe.fixed(call.name, call.arguments, before=before)
    return probes


def burst_scenarios(
    scenarios: Sequence[Sequence[ProbeCall]], probes: Mapping[str, Probe]
) -> list[list[Probe]]:
    """What the burst's rollouts replay in turn: each scenario (its calls as probes carrying the
    tool's items), then a one-call scenario for each tool no scenario calls."""
    replayed = [
        [replace(Probe.fixed(c.name, c.arguments), items=probes[c.name].items) for c in scenario]
        for scenario in scenarios
    ]
    called = {c.name for scenario in scenarios for c in scenario}
    return replayed + [[probe] for name, probe in probes.items() if name not in called]
