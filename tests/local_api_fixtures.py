"""Fixtures for the local fine-tuning API's tests: a shrunk course task whose tool service keeps
every rollout's call log (so a test can see which calls reached it), and the API on loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rftkit.api import LocalAPI, serve_api
from rftkit.course.task import CourseTaskSize, serve_course_task
from rftkit.task import RFTTask
from rftkit.toolserver.state import InMemoryStateStore
from tools_service.app import TOKEN_ENV

SMALL = CourseTaskSize(train_worlds=1, train_per_world=10, valid_worlds=1, valid_per_world=10)
"""The fewest lines the RFT rules accept (10 per file)."""
TWO_STEPS = {
    "n_epochs": 1,
    "batch_size": 5,  # 10 lines / 5 = 2 steps
    "compute_multiplier": 0.34,  # 2 rollouts per task
    "eval_interval": 1,
    "eval_samples": 1,
}
FAST_GRPO = {"triage_repeats": 2}


@dataclass
class RecordedTask:
    task: RFTTask
    env: dict[str, str] = field(repr=False)
    store: InMemoryStateStore

    @property
    def token(self) -> str:
        return self.env[TOKEN_ENV]


@contextmanager
def recorded_course_task(root: Path) -> Iterator[RecordedTask]:
    """The course task (10 training and 10 validation lines) with a tool service whose state
    store is ours to read; its token lives only in ``env``."""
    store = InMemoryStateStore()
    with serve_course_task(root, SMALL, store=store) as served:
        task = served.task.model_copy(update={"hyperparameters": dict(TWO_STEPS)})
        yield RecordedTask(task, served.env, store)


@contextmanager
def logged_api(data_dir: Path) -> Iterator[LocalAPI]:
    """The API with uvicorn's access and error logs on, propagating to the root logger (where
    pytest's ``caplog`` reads them)."""
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.access")]
    propagate = [logger.propagate for logger in loggers]  # uvicorn's default config turns it off
    for logger in loggers:
        logger.propagate = True
    try:
        with serve_api(
            data_dir, grpo=FAST_GRPO, log_config=None, log_level="info", access_log=True
        ) as api:
            yield api
    finally:
        for logger, value in zip(loggers, propagate, strict=True):
            logger.propagate = value
