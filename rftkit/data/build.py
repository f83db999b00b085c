"""Dataset lines from tasks: developer instructions, the user's question, the tool specs, and
the reference fields graders read.

A team's own tasks are plain dicts with ``question`` and ``answer``; every other key is kept as a
reference field for the grader. A task object that knows its own line shape (``as_line``, the
:class:`LineSource` protocol) makes its line itself: the course's world tasks do
(:func:`rftkit.course.dataset.course_line`), so this module knows nothing of the course.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class LineSource(Protocol):
    """A task that builds its own dataset line (``style`` names the corpus it refers to)."""

    def as_line(
        self,
        *,
        style: str,
        instructions: str | None,
        tools: Sequence[Mapping[str, Any]] | None,
        world_seed: int,
    ) -> dict[str, Any]: ...


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
    tasks: Iterable[LineSource | Mapping[str, Any]],
    *,
    style: str = "full",
    instructions: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    world_seed: int = 0,
) -> list[dict[str, Any]]:
    """One line per task, in order.

    A :class:`LineSource` (a course world ``Task``) makes its own line from ``style``,
    ``instructions``, ``tools`` and ``world_seed``. Plain dicts need ``question`` and ``answer``;
    ``id``/``task_id`` names the line and other keys are kept as grader references; they get a
    developer message only if ``instructions`` is given, and tools only if ``tools`` is.
    """
    lines = []
    for index, task in enumerate(tasks):
        if isinstance(task, LineSource):
            source = dict(
                style=style, instructions=instructions, tools=tools, world_seed=world_seed
            )
            lines.append(task.as_line(**source))
        else:
            lines.append(_own_line(index, task, instructions, list(tools or [])))
    return lines
