"""Task paths cannot double: absolute in memory, relative to the task file on disk, whatever the
caller passed and whatever the working directory is when the task is built, saved or loaded."""

import json
import os
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rftkit.course.task import CourseTaskSize, write_course_task
from rftkit.task import RFTTask

GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
          "reference": "{{item.reference_answer}}", "operation": "eq"}  # fmt: skip
FOLDERS = ("a", "a/b", "c")
"""Folders under one base: data, task files and working directories are drawn from these."""


@contextmanager
def working_directory(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def layout(base: Path) -> None:
    """Three folders, each with its own train.jsonl, and ``link`` -> ``a`` (a symlinked folder)."""
    for folder in FOLDERS:
        (base / folder).mkdir(parents=True, exist_ok=True)
        line = {"messages": [{"role": "user", "content": folder}], "reference_answer": folder}
        (base / folder / "train.jsonl").write_text(json.dumps(line) + "\n")
    if not (base / "link").exists():
        (base / "link").symlink_to(base / "a", target_is_directory=True)


def spelled(base: Path, data: str, cwd: str, how: str) -> str:
    """``base/data/train.jsonl`` written the way a caller in ``base/cwd`` might write it."""
    target = base / data / "train.jsonl"
    if how == "absolute":
        return str(target)
    if how == "relative":
        return os.path.relpath(target, base / cwd)
    if how == "dotdot":  # a detour through a sibling and back
        return os.path.join("..", Path(cwd).parts[-1], os.path.relpath(target, base / cwd))
    # through the symlink when the data is in a/ or below it
    via = str(target).replace(str(base / "a"), str(base / "link"), 1)
    return os.path.relpath(via, base / cwd)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.sampled_from(FOLDERS),
    how=st.sampled_from(("absolute", "relative", "dotdot", "symlink")),
    build_in=st.sampled_from(FOLDERS),
    saves=st.lists(st.sampled_from(FOLDERS + ("link",)), min_size=1, max_size=3),
    load_from=st.sampled_from(FOLDERS),
)
def test_a_task_finds_its_data_however_it_was_spelled_saved_and_loaded(
    tmp_path, data, how, build_in, saves, load_from
):
    layout(tmp_path)
    expected = (tmp_path / data / "train.jsonl").resolve()
    with working_directory(tmp_path / build_in):
        task = RFTTask(
            name="t", training_file=spelled(tmp_path, data, build_in, how), grader=GRADER
        )
    assert task.path("train") == expected and task.training_file.is_absolute()
    for folder in saves:  # each save from a different working directory, to a relative path
        with working_directory(tmp_path / build_in):
            stored = task.save(os.path.relpath(tmp_path / folder / "task.json"))
        on_disk = json.loads(stored.read_text())["training_file"]
        assert not Path(on_disk).is_absolute()
        assert (stored.parent / on_disk).resolve() == expected
    with working_directory(tmp_path / load_from):
        loaded = RFTTask.load(os.path.relpath(tmp_path / saves[-1] / "task.json"))
    assert loaded.path("train") == expected
    assert loaded.items()[0]["reference_answer"] == data
    with working_directory(tmp_path):  # a later change of directory changes nothing
        assert loaded.path("train") == expected


def test_in_folder_reads_relative_paths_from_the_folder_not_the_working_directory(tmp_path):
    layout(tmp_path)
    with working_directory(tmp_path / "c"):
        task = RFTTask.in_folder(
            tmp_path / "a", name="t", training_file="train.jsonl", grader=GRADER
        )
    assert task.path("train") == (tmp_path / "a" / "train.jsonl").resolve()


def test_a_course_task_written_to_a_relative_folder_loads_its_own_files(tmp_path):
    """The failure `make demo` hit at stage 5: the demo's default, relative ``--out`` doubled."""
    size = CourseTaskSize(train_worlds=1, train_per_world=2, valid_worlds=1, valid_per_world=1)
    with working_directory(tmp_path):
        task = write_course_task(Path("runs/demo/task"), "http://127.0.0.1:9", size)
        assert task.path("train") == (tmp_path / "runs/demo/task/train.jsonl").resolve()
        assert len(task.items("train")) == 2 and len(task.items("validation")) == 1
        assert RFTTask.load("runs/demo/task/task.json").path("train") == task.path("train")
