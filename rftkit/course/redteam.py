"""The course's red-team cases: its ideal reference rollouts, ready for
:func:`rftkit.evaluation.redteam.run_redteam` to twist."""

from __future__ import annotations

from rftkit.course.reference_labels import load_reference_set
from rftkit.evaluation.redteam import Case
from rftkit.protocol import Sample


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
