"""The course's dataset lines: a world task as a line, the course dataset and its files.

The kit's :func:`rftkit.data.build_dataset` turns any task with ``as_line`` into a line; the
world's :class:`~rftkit.course.world.Task` does it with :func:`course_line`. The course line (the
graders, rollouts and trainer read exactly these keys)::

    {"messages": [{"role": "developer", ...}, {"role": "user", "content": <question>}],
     "tools": [...], "task_id": "t0001", "reference_answer": "85.2", "reference_value": 85.2,
     "unit": "USD millions", "task_type": "lookup", "tier": 1, "min_tool_calls": 1,
     "evidence": [...], "uses_restatement": false, "world_seed": 0, "corpus_style": "full"}
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rftkit.course.world import STYLES, Task, generate_tasks, generate_world
from rftkit.data.build import build_dataset
from rftkit.data.jsonl import write_jsonl
from rftkit.data.split import stratified_split

COURSE_INSTRUCTIONS = (
    "You answer questions about companies from their quarterly reports, which you can only see "
    "through your tools: search finds lines, list_files and read_file open reports, calculator "
    "does exact arithmetic. A correction printed in a later report replaces the earlier figure. "
    "Money is in USD millions with one decimal, headcount in whole people, percentage changes "
    "with one decimal. Reply with the answer alone: just the number (no unit, no thousands "
    "separators) or, for a comparison, the company's full name."
)


def course_tool_specs() -> list[dict[str, Any]]:
    """The course's tools (search, list_files, read_file, calculator) in chat-completions format."""
    from tools_service.tools import toolbox  # the service package; imported only when asked

    return toolbox.specs()


def course_line(
    task: Task,
    *,
    style: str = "full",
    instructions: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    world_seed: int = 0,
) -> dict[str, Any]:
    """A world task as a course line. ``style`` picks the corpus the evidence refers to;
    instructions default to COURSE_INSTRUCTIONS, tools to the course's tool service."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    compact = style == "compact"
    instructions = instructions or COURSE_INSTRUCTIONS
    tools = list(tools) if tools is not None else course_tool_specs()
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
