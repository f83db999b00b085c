"""The course's grader configs: a naive one for the red team to break, and the one we keep.

Both are plain OpenAI grader dicts, so the same value runs locally (:func:`run_grader`) and goes
into a job. Dataset lines carry ``reference_answer`` (canonical string), ``reference_value``
(float), ``unit`` ("USD millions", "people", "%" or "company"), ``task_type``, ``tier`` and
``min_tool_calls``.

The course grader's efficiency term reads ``len(sample.output_tools)``. In rftkit's local engine
``sample.output_tools`` lists *every* tool call the rollout made; on OpenAI's service it may hold
only the final turn's calls, and an endpoint grader that reads the tool service's
``GET /traces/{trace_id}`` log plays that role (see :mod:`rftkit.graders.trajectory`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from rftkit.graders.sources import (  # python_grader: re-exported, its old home
    answer_closeness,
    answer_closeness_draft,
    answer_support,
    evidence_lookup,
    python_grader,
    tool_efficiency,
)


def naive_grader() -> dict[str, Any]:
    """Reward 1 when the output contains the reference answer anywhere.

    Looks reasonable and is easy to game: "either 911.4 or 912" passes, listing every number of
    the documents passes, and so does the wrong answer 911.45 (it contains "911.4"). There is no
    partial credit, so nearly-right answers teach nothing.
    """
    return {
        "type": "string_check",
        "name": "contains_reference",
        "operation": "like",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
    }


def course_grader_draft() -> dict[str, Any]:
    """The first multi grader, which notebook 03 measures and replaces: it fails the launch gate.

    ``correct`` gives 1 for the exact value, 0.5 within 1 %, 0.25 for the right digits at the
    wrong scale; ``correct * (0.5 + 0.5 * tools)`` halves a lucky guess, but also pulls right
    answers made with extra tool calls below the "right" label, which the rubric does not do.
    """
    return {
        "type": "multi",
        "name": "course_grader_draft",
        "graders": {
            "correct": python_grader("answer_closeness_draft", answer_closeness_draft),
            "tools": python_grader("tool_efficiency", tool_efficiency),
        },
        "calculate_output": "correct * (0.5 + 0.5 * tools)",
    }


# Small enough that the slowest correct rollout still earns more than any partly right one
# (0.8 > 0.5): efficiency breaks ties between right answers, it never turns right into wrong.
EFFICIENCY_WEIGHT = 0.2


def course_grader() -> dict[str, Any]:
    """The rubric's credit for the answer, halved without evidence, times a gentle efficiency term.

    ``correct`` applies the labelling rubric (1 right, 0.5 rounded too coarsely, 0 wrong,
    ambiguous or addressed to the grader); ``evidence`` is 0.5 when the rollout read or searched
    nothing (a lucky guess, rubric rule 10); ``tools`` is 1 at the task's minimum number of tool
    calls. ``correct * evidence * (0.8 + 0.2 * tools)`` leaves a wrong answer at 0 however it was
    reached; the rubric does not judge efficiency, so the term only ranks answers within a label.
    """
    return _rubric_times_efficiency("course_grader", "evidence", evidence_lookup)


def course_grader_supported() -> dict[str, Any]:
    """:func:`course_grader` with ``evidence`` replaced by ``support``: lucky guesses caught.

    ``support`` (``answer_support``) is 1 only when the rollout looked at every report the
    answer needs (``item.evidence``) and, for a comparison, its last calculation used the
    winning figure; else 0.5, the rubric's "right but unsupported". It halves what
    ``evidence_lookup`` let through: a comparison answered after reading one candidate, or
    after computing with the wrong figure (401.2 - 536.2 = -135.0, then the other company).
    Kept beside :func:`course_grader`, whose rewards the demo and committed runs were made with.
    """
    return _rubric_times_efficiency("course_grader_supported", "support", answer_support)


def _rubric_times_efficiency(
    name: str, term: str, evidence: ModuleType
) -> dict[str, Any]:
    """``correct * <term> * (0.8 + 0.2 * tools)``, the shape both kept graders share."""
    keep = 1 - EFFICIENCY_WEIGHT
    return {
        "type": "multi",
        "name": name,
        "graders": {
            "correct": python_grader("answer_closeness", answer_closeness),
            term: python_grader(evidence.__name__.rpartition(".")[2], evidence),
            "tools": python_grader("tool_efficiency", tool_efficiency),
        },
        "calculate_output": f"correct * {term} * ({keep:g} + {EFFICIENCY_WEIGHT:g} * tools)",
    }
