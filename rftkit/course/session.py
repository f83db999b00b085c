"""The course world served on loopback, ready for rollouts: one `with` for notebooks and benchmarks.

It writes the seeded world's corpus, serves the real tool service (``tools_service``) under uvicorn
with a fresh bearer token, and gives the job's ``tools`` config and the dataset lines. The token
lives only in the job tools' headers, which no repr shows.

``items`` are the course dataset lines ``rftkit.data.course_dataset`` builds for that world.

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

from rftkit.course.dataset import course_dataset
from rftkit.course.world import STYLES, generate_world, write_corpus
from rftkit.protocol import JobTool
from rftkit.serving import serve_in_background
from tools_service.app import create_app
from tools_service.tools import toolbox


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
        items = course_dataset(seed=seed, style=style, n=n)
        yield CourseSession(base_url, corpus, items, job_tools)
