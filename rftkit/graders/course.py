"""The course's grader configs: a naive one for the red team to break, and the one we keep.

Both are plain OpenAI grader dicts, so the same value runs locally (:func:`run_grader`) and goes
into a job. Dataset lines carry ``reference_answer`` (canonical string), ``reference_value``
(float), ``unit`` ("USD millions", "people", "%" or "company"), ``task_type``, ``tier`` and
``min_tool_calls``.

The course grader's efficiency term reads ``len(sample.output_tools)``. In rftkit's local engine
``sample.output_tools`` lists *every* tool call the rollout made; on OpenAI's service it may hold
only the final turn's calls, and an endpoint grader that reads the tool service's
``GET /traces/{trace_id}`` log plays that role (see :mod:`rftkit.graders.server`).
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

from rftkit.graders.sources import answer_closeness, tool_efficiency


def python_grader(name: str, module: ModuleType) -> dict[str, Any]:
    """A ``python`` grader whose source is ``module``'s file (which must define ``grade``)."""
    return {"type": "python", "name": name, "source": inspect.getsource(module)}


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


EFFICIENCY_WEIGHT = 0.5


def course_grader() -> dict[str, Any]:
    """Partial credit for the answer, times an efficiency factor that only matters on success.

    ``correct`` gives 1 for the exact value, 0.5 within 1 %, 0.25 for the right digits at the
    wrong scale, and 0 for hedged or ambiguous answers. ``tools`` is 1 at the task's minimum
    number of tool calls. The formula ``correct * (0.5 + 0.5 * tools)`` leaves a wrong answer at
    0 however it was reached, and halves the reward of a lucky guess made without evidence.
    """
    keep = 1 - EFFICIENCY_WEIGHT
    return {
        "type": "multi",
        "name": "course_grader",
        "graders": {
            "correct": python_grader("answer_closeness", answer_closeness),
            "tools": python_grader("tool_efficiency", tool_efficiency),
        },
        "calculate_output": f"correct * ({keep:g} + {EFFICIENCY_WEIGHT:g} * tools)",
    }
