"""Fixtures shared by the local engine's tests."""

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rftkit.course.expert import Habits
from rftkit.course.pretrain import build_tokenizer, scripted_transcripts


@pytest.fixture(scope="session")
def scripted_world(tmp_path_factory):
    """The scripted expert's conversations on world 1001 and a tokenizer built from them."""
    conversations, names = scripted_transcripts(
        [1001], tmp_path_factory.mktemp("w"), Habits(), random.Random(0)
    )
    return build_tokenizer(conversations, names), conversations


@pytest.fixture(scope="session")
def tiny_course_task(tmp_path_factory):
    """The course task shrunk to a few lines, its worlds' tool service running on loopback."""
    from rftkit.course.task import CourseTaskSize, serve_course_task

    size = CourseTaskSize(train_worlds=1, train_per_world=3, valid_worlds=1, valid_per_world=2)
    with serve_course_task(tmp_path_factory.mktemp("course-task"), size) as served:
        yield served


@pytest.fixture
def run_benchmark(tmp_path):
    """Run ``benchmarks/<script>`` as a user in another checkout would: from an empty folder, the
    repository on ``PYTHONPATH``. Returns its stdout; a failure shows its stderr."""
    root = Path(__file__).resolve().parents[1]

    def run(script: str, *args: str) -> str:
        command = [sys.executable, str(root / "benchmarks" / script), *args]
        env = {**os.environ, "PYTHONPATH": str(root)}
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    return run
