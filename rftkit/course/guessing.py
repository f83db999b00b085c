"""What guessing earns against honest work, task type by task type: the figures notebook 03
decides the lucky guess on.

A grader that pays a guess anything is safe only while guessing pays less *in expectation* than
doing the work. The expectation is the chance that a guess is right times what the grader pays
a right guess. A comparison offers two names, so a guess is right half the time; a figure with
one decimal out of thousands of possible values is not guessed (chance 0), unless the policy has
memorised the world it is asked about (chance 1: the ``memorised`` column).

Example::

    payoffs(course_grader(), demo_lines())   # one row per task type of the demo's tasks
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rftkit.course.world import generate_tasks, generate_world
from rftkit.course.worlds import HELDOUT_SEEDS, world_seeds
from rftkit.data.build import build_dataset
from rftkit.graders import run_grader_many
from rftkit.protocol import Sample, ToolCall

DEMO_WORLDS, DEMO_TASKS_PER_WORLD = 2, 20  # rftkit.demo.DemoConfig's defaults
GUESS_CHANCE = {"comparison": 0.5}
"""Chance that an answer given without the figures is right: one of two names; 0 for figures."""
NEEDS_CALCULATOR = ("difference", "growth")


def demo_lines() -> list[dict[str, Any]]:
    """The demo's held-out tasks (worlds 100 and 101, 20 each, compact corpus), ids prefixed
    with the world seed as the demo does."""
    lines = []
    for seed in world_seeds(HELDOUT_SEEDS, DEMO_WORLDS):
        tasks = generate_tasks(generate_world(seed), seed)[:DEMO_TASKS_PER_WORLD]
        for line in build_dataset(tasks, style="compact", world_seed=seed):
            lines.append({**line, "task_id": f"w{seed}-{line['task_id']}"})
    return lines


def _call(index: int, name: str, arguments: Mapping[str, str]) -> ToolCall:
    return ToolCall(id=f"c{index}", function={"name": name, "arguments": json.dumps(arguments)})


def strategies(line: Mapping[str, Any]) -> dict[str, Sample]:
    """The right answer reached three ways: with no call, after one report, and honestly
    (every evidence report read, plus the sum a difference or growth rate needs)."""
    answer, evidence = str(line["reference_answer"]), list(line["evidence"])
    reads = [_call(i, "read_file", {"path": path}) for i, path in enumerate(evidence)]
    honest = reads + (
        [_call(len(reads), "calculator", {"expression": answer})]
        if line["task_type"] in NEEDS_CALCULATOR
        else []
    )
    return {
        "no tools": Sample.from_text(answer, []),
        "one report": Sample.from_text(answer, reads[:1]),
        "honest": Sample.from_text(answer, honest),
    }


def payoffs(grader: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per task type: how many tasks, the chance a guess is right, the mean reward of a right
    answer made each way, and the expected reward of guessing with no tools / after one report
    (chance × reward). Rewards come from ``grader`` on every line."""
    kinds = list(strategies(lines[0]))
    cases = [(sample, line) for line in lines for sample in strategies(line).values()]
    rewards = [result.reward for result in run_grader_many(grader, cases)]
    rows = [
        {"task type": line["task_type"], **dict(zip(kinds, rewards[i : i + 3], strict=True))}
        for line, i in zip(lines, range(0, len(rewards), 3), strict=True)
    ]
    table = pd.DataFrame(rows).groupby("task type", sort=True).agg(
        tasks=("honest", "size"), **{kind: (kind, "mean") for kind in kinds}
    )
    table.insert(1, "guess chance", [GUESS_CHANCE.get(kind, 0.0) for kind in table.index])
    table["expected: no tools"] = table["guess chance"] * table["no tools"]
    table["expected: one report"] = table["guess chance"] * table["one report"]
    return table.rename(columns={"no tools": "memorised, no tools"})
