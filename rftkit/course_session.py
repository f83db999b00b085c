"""The course world served on loopback, ready for rollouts: one `with` for notebooks and benchmarks.

It writes the seeded world's corpus, serves the real tool service (``tools_service``) under uvicorn
with a fresh bearer token, and gives the job's ``tools`` config and the dataset lines. The token
lives only in the job tools' headers, which no repr shows.

``items`` are course dataset lines with the keys ``rftkit.data.build_dataset`` writes (messages,
tools, task_id, reference_answer, reference_value, unit, task_type, tier, min_tool_calls,
evidence, uses_restatement, world_seed, corpus_style); they are built here so the rollout layer
runs the course without the data layer's files.

Example::

    with course_session(seed=0, style="full", n=20) as course:
        traces = run_rollouts_sync(course.items, policy, tools=course.job_tools, grader=grader)
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftkit.protocol import JobTool
from rftkit.serving import serve_in_background
from rftkit.world import STYLES, Task, generate_tasks, generate_world, write_corpus
from tools_service.app import create_app
from tools_service.tools import toolbox

INSTRUCTIONS = (
    "You answer questions about companies from their quarterly reports, which you can only see "
    "through your tools: search finds lines, list_files and read_file open reports, calculator "
    "does exact arithmetic. A correction printed in a later report replaces the earlier figure. "
    "Reply with the answer alone: just the number (no unit, no thousands separators) or, for a "
    "comparison, the company's full name."
)


def course_line(task: Task, style: str = "full", world_seed: int = 0) -> dict[str, Any]:
    """One dataset line for a world task (the data layer's course-line keys)."""
    compact = style == "compact"
    return {
        "messages": [
            {"role": "developer", "content": INSTRUCTIONS},
            {"role": "user", "content": task.question},
        ],
        "tools": toolbox.specs(),
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


@dataclass
class CourseSession:
    """A running tool service over the course world, and the lines to roll out against it."""

    base_url: str
    corpus_dir: Path
    items: list[dict[str, Any]]
    job_tools: list[JobTool] = field(repr=False)


@contextmanager
def course_session(
    seed: int = 0, style: str = "full", n: int | None = None, directory: str | Path | None = None
) -> Iterator[CourseSession]:
    """Serve the world of ``seed`` (corpus ``style``) until the block ends; ``n`` tasks (default
    100). The corpus goes to ``directory`` (default: a temporary folder removed afterwards)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    with ExitStack() as stack:
        root = (
            Path(directory)
            if directory
            else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        )
        world = generate_world(seed=seed)
        corpus = root / f"seed-{seed}" / style
        if not corpus.is_dir():
            write_corpus(world, corpus, style=style)
        token = secrets.token_urlsafe(24)
        base_url = stack.enter_context(serve_in_background(create_app(corpus, token=token)))
        headers = {"Authorization": f"Bearer {token}"}
        job_tools = [t.job_tool(f"{base_url}/call", headers) for t in toolbox]
        items = [course_line(t, style, seed) for t in generate_tasks(world, seed=seed, n=n)]
        yield CourseSession(base_url, corpus, items, job_tools)
