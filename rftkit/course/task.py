"""The course's worlds as a task: training and validation files, the course grader, and one tool
service on loopback that serves every world the lines come from.

This is one way to build an :class:`~rftkit.task.RFTTask`; a team writes its own the same way.
Each line carries its ``world_seed`` and the trainer sends the line with every tool call, so a
single job-level tools config (one URL) answers from the right world's corpus.

The defaults are the local engine's course run: 32 tasks from each of three GRPO training worlds
(seeds 2000 and up, never seen in pre-training), 20 from each of two validation worlds (300 and
up), the course grader, 12 turns, two epochs of batches of 8.

Example::

    with serve_course_task() as course:
        job = launch("local", task=course.task, env=course.env)
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftkit.course.dataset import write_course_files
from rftkit.course.grader import course_grader
from rftkit.course.worlds import GRPO_SEEDS, VALID_SEEDS, LocalWorld, build_world, world_seeds
from rftkit.data import build_dataset, write_jsonl
from rftkit.local.checkpoint import BASE_MODEL
from rftkit.protocol import JobTool
from rftkit.serving import serve_in_background
from rftkit.task import TASK_FILE, RFTTask, TaskTool
from rftkit.toolserver.state import StateStore
from rftkit.trl.gpus import DEFAULT_MODEL
from tools_service.app import TOKEN_ENV, create_app
from tools_service.tools import toolbox

COURSE_HYPERPARAMETERS = {
    "n_epochs": 2,
    "batch_size": 8,
    "compute_multiplier": 1,
    "eval_interval": 8,
    "eval_samples": 1,
    "learning_rate_multiplier": 1,
}


@dataclass(frozen=True)
class CourseTaskSize:
    """How many worlds and lines of each the course task holds."""

    train_worlds: int = 3
    train_per_world: int = 32
    valid_worlds: int = 2
    valid_per_world: int = 20


def course_task_tools(server_url: str) -> list[TaskTool]:
    """The course's four tools at ``{server_url}/call``, the token as a ``${RFTKIT_TOOL_TOKEN}``
    reference (the service's own variable)."""
    headers = {"Authorization": f"Bearer ${{{TOKEN_ENV}}}"}
    url = f"{server_url.rstrip('/')}/call"
    return [TaskTool(name=t.name, server_url=url, headers=headers) for t in toolbox]


def world_lines(world: LocalWorld, n: int) -> list[dict[str, Any]]:
    """The first ``n`` compact-corpus lines of ``world``, ids prefixed with its seed (worlds share
    ids like ``t0001``, and rollouts are grouped by id)."""
    seed = world.world.seed
    lines = build_dataset(world.tasks[:n], style="compact", world_seed=seed)
    return [{**line, "task_id": f"w{seed}-{line['task_id']}"} for line in lines]


def course_worlds(size: CourseTaskSize, directory: Path) -> tuple[list[LocalWorld], ...]:
    """The training and validation worlds of a course task, corpora written under ``directory``."""
    train = [build_world(s, directory) for s in world_seeds(GRPO_SEEDS, size.train_worlds)]
    valid = [build_world(s, directory) for s in world_seeds(VALID_SEEDS, size.valid_worlds)]
    return train, valid


def write_course_task(
    directory: str | Path,
    server_url: str,
    size: CourseTaskSize = CourseTaskSize(),
    *,
    grader: dict[str, Any] | None = None,
) -> RFTTask:
    """Write ``train.jsonl``, ``valid.jsonl`` and ``task.json`` under ``directory``; the worlds'
    corpora go to ``directory/worlds``. Tools point at ``server_url`` (``/call``)."""
    root = Path(directory)
    return _write_task(root, server_url, *course_worlds(size, root / "worlds"), size, grader)


def _write_task(
    root: Path,
    server_url: str,
    train_worlds: list[LocalWorld],
    valid_worlds: list[LocalWorld],
    size: CourseTaskSize,
    grader: dict[str, Any] | None,
) -> RFTTask:
    train = [line for w in train_worlds for line in world_lines(w, size.train_per_world)]
    valid = [line for w in valid_worlds for line in world_lines(w, size.valid_per_world)]
    write_jsonl(train, root / "train.jsonl")
    write_jsonl(valid, root / "valid.jsonl")
    task = RFTTask(
        name="course",
        training_file=root / "train.jsonl",
        validation_file=root / "valid.jsonl",
        grader=grader if grader is not None else course_grader(),
        tools=course_task_tools(server_url),
        max_episode_steps=12,
        model=BASE_MODEL,
        hyperparameters=dict(COURSE_HYPERPARAMETERS),
        seed=0,
    )
    task.save(root / TASK_FILE)
    return task


@dataclass
class ServedWorlds:
    """One tool service on loopback answering for several worlds, and its bearer token."""

    base_url: str
    token: str = field(repr=False)

    def job_tools(self) -> list[JobTool]:
        """The job's ``tools`` config for the course's four tools, token filled in."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return [t.job_tool(f"{self.base_url}/call", headers) for t in toolbox]


@contextmanager
def serve_worlds(
    worlds: list[LocalWorld], store: StateStore | None = None
) -> Iterator[ServedWorlds]:
    """The worlds' compact corpora behind one tool service with a fresh token, until the block
    ends; each call reads the corpus of its item's ``world_seed``. ``store`` (default: a fresh
    in-memory one) holds the rollouts' call logs, e.g. for a test to read."""
    corpora = {w.world.seed: w.corpus() for w in worlds}
    token = secrets.token_urlsafe(24)
    with serve_in_background(create_app(corpora, token=token, store=store)) as url:
        yield ServedWorlds(url, token)


@dataclass
class ServedTask:
    """A task whose tool service is running, and the environment its header references need."""

    task: RFTTask
    base_url: str
    env: dict[str, str] = field(repr=False)


@contextmanager
def serve_course_task(
    directory: str | Path | None = None,
    size: CourseTaskSize = CourseTaskSize(),
    *,
    grader: dict[str, Any] | None = None,
    store: StateStore | None = None,
) -> Iterator[ServedTask]:
    """Write the course task and serve its worlds' tools on loopback until the block ends.

    The service's bearer token is fresh and lives only in ``env`` (``RFTKIT_TOOL_TOKEN``), which
    the task file references; nothing secret is written to disk.
    """
    with ExitStack() as stack:
        root = Path(directory or stack.enter_context(tempfile.TemporaryDirectory()))
        train, valid = course_worlds(size, root / "worlds")
        served = stack.enter_context(serve_worlds(train + valid, store))
        task = _write_task(root, served.base_url, train, valid, size, grader)
        yield ServedTask(task, served.base_url, {TOKEN_ENV: served.token})


def trl_course_task(tools_url: str, out: str | Path) -> RFTTask:
    """The course task for TRL on Modal against a deployed tool service (which serves world 0 by
    default): world 0's compact lines (the split ``write_course_files`` makes, the same lines as
    the notebooks' ``data/*_compact.jsonl``), written under ``out/data``, and ``out/task.json``."""
    files = write_course_files(Path(out) / "data", seed=0)
    task = RFTTask(
        name="course-trl",
        training_file=files["train_compact"],
        validation_file=files["valid_compact"],
        grader=course_grader(),
        tools=course_task_tools(tools_url),
        max_episode_steps=12,
        model=DEFAULT_MODEL,
        hyperparameters=dict(COURSE_HYPERPARAMETERS),
        seed=0,
    )
    task.save(Path(out) / TASK_FILE)
    return task
