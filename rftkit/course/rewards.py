"""The rewards of the local engine's lessons, all plain OpenAI grader configs.

- ``course_grader()`` (from ``rftkit.course.grader``): correctness times an efficiency factor,
  so a tool call costs something only when the answer is right. A wrong answer scores 0 however
  few calls it made, so dropping the tools never pays.
- ``flat_cost_grader()``: correctness minus a flat cost per call. It looks sensible, but on
  questions the model cannot solve yet the only way up is fewer calls. In the benchmark's 24 steps
  (``benchmarks/local_training.py``) its own reward rose while tool calls fell to half of what
  the tasks need and held-out accuracy fell below the base model's.
- ``latency_grader()``: the course grader's correctness and evidence terms, times a stronger
  efficiency term that counts latency as the trainer sees it (model turns, tool calls and
  reasoning tokens; ``latency_efficiency``). Correctness still comes first: the slowest right
  answer (0.6) beats any partly right one (0.5), and a wrong answer is 0 however fast.
"""

from __future__ import annotations

from typing import Any

from rftkit.course.grader import course_grader
from rftkit.graders.sources import (
    CALL_COUNT_SOURCE,
    answer_closeness,
    answer_support,
    latency_efficiency,
    python_grader,
)

FLAT_COST = 0.1
LATENCY_WEIGHT = 0.4


def flat_cost_grader(cost: float = FLAT_COST) -> dict[str, Any]:
    """Naive reward: ``correct - cost * calls`` (the one that gets hacked)."""
    return {
        "type": "multi",
        "name": "flat_cost_grader",
        "graders": {
            "correct": python_grader("answer_closeness", answer_closeness),
            "calls": {"type": "python", "name": "tool_calls", "source": CALL_COUNT_SOURCE},
        },
        "calculate_output": f"correct - {cost:g} * calls",
    }


def latency_grader(weight: float = LATENCY_WEIGHT) -> dict[str, Any]:
    """``correct * evidence * (1 - weight + weight * latency)``: right first, then fast; the
    course grader's own ``correct`` and ``evidence`` graders, with the latency term beside them."""
    course = course_grader()["graders"]
    return {
        "type": "multi",
        "name": "latency_grader",
        "graders": {
            "correct": course["correct"],
            "evidence": course["evidence"],
            "latency": python_grader("latency_efficiency", latency_efficiency),
        },
        "calculate_output": f"correct * evidence * ({1 - weight:g} + {weight:g} * latency)",
    }


def latency_grader_supported(weight: float = LATENCY_WEIGHT) -> dict[str, Any]:
    """:func:`latency_grader` with ``evidence`` replaced by ``support`` (``answer_support``, as in
    ``course_grader_supported``): a right answer the figures read do not support (a comparison
    named after a calculation with the wrong figure) earns at most half, below the slowest
    supported right answer (``1 - weight``). Kept beside :func:`latency_grader`, whose rewards the
    demo and the committed runs were made with."""
    graders = latency_grader(weight)["graders"]
    return {
        "type": "multi",
        "name": "latency_grader_supported",
        "graders": {
            "correct": graders["correct"],
            "support": python_grader("answer_support", answer_support),
            "latency": graders["latency"],
        },
        "calculate_output": f"correct * support * ({1 - weight:g} + {weight:g} * latency)",
    }


REWARDS = {"course": course_grader, "latency": latency_grader, "flat_cost": flat_cost_grader}
