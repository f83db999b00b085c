"""Fixtures shared by the local engine's tests."""

import random

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
