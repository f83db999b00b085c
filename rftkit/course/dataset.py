"""Dataset lines from tasks: developer instructions, the user's question, the tool specs, and
the reference fields graders read.

The course line (the graders, rollouts and trainer read exactly these keys)::

    {"messages": [{"role": "developer", ...}, {"role": "user", "content": <question>}],
     "tools": [...], "task_id": "t0001", "reference_answer": "85.2", "reference_value": 85.2,
     "unit": "USD millions", "task_type": "lookup", "tier": 1, "min_tool_calls": 1,
     "evidence": [...], "uses_restatement": false, "world_seed": 0, "corpus_style": "full"}

A team's own tasks are plain dicts with ``question`` and ``answer``; every other key is kept as a
reference field for the grader.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rftkit.course.world import STYLES, Task, generate_tasks, generate_world
from rftkit.data.jsonl import write_jsonl
from rftkit.data.split import stratified_split
from rftkit.data.toolspecs import course_tool_specs

COURSE_INSTRUCTIONS = (
    "You answer questions about companies from their quarterly reports, which you can only see "
    "through your tools: search finds lines, list_files and read_file open reports, calculator "
    "does exact arithmetic. A correction printed in a later report replaces the earlier figure. "
    "Money is in USD millions with one decimal, headcount in whole people, percentage changes "
    "with one decimal. Reply with the answer alone: just the number (no unit, no thousands "
    "separators) or, for a comparison, the company's full name."
)


def _course_line(
    task: Task,
    style: str,
    instructions: str,
    tools: list[dict[str, Any]],
    world_seed: int,
) -> dict[str, Any]:
    compact = style == "compact"
    return {
        "messages": [
            {"role": "developer", "content": instructions},
            {"role": "user", "content": task.question},
        ],
        "tools": copy.deepcopy(tools),  # each line owns its specs: editing one edits no other
        "task_id": task.id,
        "reference_answer": task.answer,
        "reference_value": task.answer_value,
        "unit": task.unit,
        "task_type": task.task_type,
        "tier": task.tier,
        "min_tool_calls": task.compact_min_tool_calls if compact else task.min_tool_calls,
        "evidence": list(task.compact_evidence if compact else task.evidence),
        "uses_restatement": task.uses_restatement,
        "world_seed": world_seed,
        "corpus_style": style,
    }


def _own_line(
    index: int, task: Mapping[str, Any], instructions: str | None, tools: list[dict[str, Any]]
) -> dict[str, Any]:
    missing = [key for key in ("question", "answer") if key not in task]
    if missing:
        raise ValueError(f"task {index} has no {' or '.join(missing)} (keys: {sorted(task)})")
    extra = {k: v for k, v in task.items() if k not in ("question", "answer", "id", "task_id")}
    messages = [{"role": "developer", "content": instructions}] if instructions else []
    messages.append({"role": "user", "content": str(task["question"])})
    line: dict[str, Any] = {"messages": messages}
    if tools:
        line["tools"] = copy.deepcopy(tools)
    line["task_id"] = str(task.get("task_id", task.get("id", f"t{index + 1:04d}")))
    line["reference_answer"] = str(task["answer"])
    return line | extra


def build_dataset(
    tasks: Iterable[Task | Mapping[str, Any]],
    *,
    style: str = "full",
    instructions: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    world_seed: int = 0,
) -> list[dict[str, Any]]:
    """One line per task, in order.

    World ``Task``s become course lines (``style`` picks the corpus the evidence refers to;
    instructions default to COURSE_INSTRUCTIONS, tools to the course's tool service).
    Plain dicts need ``question`` and ``answer``; ``id``/``task_id`` names the line and other
    keys are kept as grader references; they get a developer message only if ``instructions``
    is given, and tools only if ``tools`` is.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    lines = []
    for index, task in enumerate(tasks):
        if isinstance(task, Task):
            specs = list(tools) if tools is not None else course_tool_specs()
            text = instructions or COURSE_INSTRUCTIONS
            lines.append(_course_line(task, style, text, specs, world_seed))
        else:
            lines.append(_own_line(index, task, instructions, list(tools or [])))
    return lines


def course_dataset(
    seed: int = 0, style: str = "full", n: int | None = None
) -> list[dict[str, Any]]:
    """The course dataset: the world and tasks of ``seed`` (default 100 tasks) as lines."""
    world = generate_world(seed=seed)
    return build_dataset(generate_tasks(world, seed=seed, n=n), style=style, world_seed=seed)


def write_course_files(
    directory: str | Path, seed: int = 0, valid_fraction: float = 0.2
) -> dict[str, Path]:
    """The course's train/validation files for both corpus styles, split once by task.

    ``train.jsonl``/``valid.jsonl`` refer to the full corpus, ``train_compact.jsonl``/
    ``valid_compact.jsonl`` to the compact one; both pairs hold the same task ids.
    """
    full = course_dataset(seed=seed, style="full")
    train, valid = stratified_split(full, valid_fraction, seed=seed)
    valid_ids = {line["task_id"] for line in valid}
    compact = course_dataset(seed=seed, style="compact")
    parts = {
        "train": train,
        "valid": valid,
        "train_compact": [line for line in compact if line["task_id"] not in valid_ids],
        "valid_compact": [line for line in compact if line["task_id"] in valid_ids],
    }
    return {
        name: write_jsonl(lines, Path(directory) / f"{name}.jsonl") for name, lines in parts.items()
    }
