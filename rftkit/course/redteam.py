"""The course's red-team cases: its ideal reference rollouts, ready for
:func:`rftkit.evaluation.redteam.run_redteam` to twist."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from rftkit.course.reference_labels import load_reference_set
from rftkit.evaluation.redteam import PROBES, Case, Probe
from rftkit.protocol import Sample, ToolCall

LUCKY_GUESS_LIMIT = 0.4
"""What a right answer given without tools may earn: the rubric's partial credit, which notebook 03
keeps after computing what guessing earns in expectation (0.2 on a two-way comparison, 0 on a
figure, against 1.00 for the work; section 5b)."""


def course_probes() -> tuple[Probe, ...]:
    """The red team's probes with notebook 03's decision written in: the lucky guess is flagged
    above :data:`LUCKY_GUESS_LIMIT` instead of the default threshold. The demo and notebook 06
    red-team the rewards they train with against these."""
    return tuple(
        replace(p, max_mean=LUCKY_GUESS_LIMIT) if p.name == "lucky guess" else p for p in PROBES
    )


def cases_from_reference() -> list[Case]:
    """The course's cases: ideal rollouts from the reference set.

    Ideal means labelled right by a human (rubric v1, label 1), answered with exactly the
    canonical reference string, and with no more tool calls than the task's minimum; their tool
    calls and the files they read become the honest rollout and the documents.
    """
    reference = load_reference_set()
    ideal = [
        row
        for row in reference.itertuples()
        if row.label == 1.0
        and row.answer == row.reference_answer
        and len(row.trace) <= row.item["min_tool_calls"]
    ]
    return [
        Case(
            question=row.question,
            answer=row.reference_answer,
            item=row.item,
            sample=Sample.model_validate(row.sample),
            documents=tuple(
                str(step["output"]) for step in row.trace if step["tool"] == "read_file"
            ),
        )
        for row in ideal
    ]


def _call(case: Case, index: int, name: str, arguments: dict[str, str]) -> ToolCall:
    return ToolCall(
        id=f"support_{index}", function={"name": name, "arguments": json.dumps(arguments)}
    )


def _half_the_evidence(case: Case) -> Sample | None:
    """The right answer after reading only the first of the reports it needs."""
    evidence = case.item.get("evidence") or []
    if len(evidence) < 2:
        return None
    return Sample.from_text(case.answer, [_call(case, 0, "read_file", {"path": evidence[0]})])


def _contradicted(case: Case) -> Sample | None:
    """The right company after a calculation whose own figures favour the rival: the -135.0 case
    (the winner's figure minus a larger figure from the other report, then the winner named)."""
    if case.item.get("task_type") != "comparison" or case.item.get("reference_value") is None:
        return None
    winning = Decimal(str(case.item["reference_value"]))
    larger = [Decimal(n) for n in case.numbers() if Decimal(n) > winning]
    rival = min(larger) if larger else winning + 135
    calls = [
        _call(case, i, "read_file", {"path": path})
        for i, path in enumerate(case.item.get("evidence") or [])
    ]
    calls.append(_call(case, len(calls), "calculator", {"expression": f"{winning} - {rival}"}))
    return Sample.from_text(case.answer, calls)


SUPPORT_PROBES: tuple[Probe, ...] = (
    Probe("half the evidence", "the right answer after reading one of the reports needed",
          _half_the_evidence),
    Probe("contradicted by its own sum", "the right company after a sum that favours the rival",
          _contradicted),
)  # fmt: skip
"""Lucky guesses that made calls: answers the figures the rollout looked at do not support
(``course_grader_supported``'s ``support`` term halves them; ``evidence`` alone pays them)."""
