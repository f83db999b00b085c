"""Dataset lines from the world and from a team's own tasks."""

from pathlib import Path

import pytest
from fastapi import FastAPI

from rftkit.course.dataset import (
    COURSE_INSTRUCTIONS,
    course_dataset,
    course_tool_specs,
    write_course_files,
)
from rftkit.course.world import generate_tasks, generate_world
from rftkit.data import (
    build_dataset,
    fetch_tool_specs,
    load_jsonl,
    tool_names,
    validate_file,
    validate_records,
    write_jsonl,
)
from rftkit.serving import serve_in_background
from tools_service.tools import toolbox

COURSE_KEYS = [
    "messages", "tools", "task_id", "reference_answer", "reference_value", "unit", "task_type",
    "tier", "min_tool_calls", "evidence", "uses_restatement", "world_seed", "corpus_style",
]  # fmt: skip


@pytest.fixture(scope="module")
def tasks():
    return generate_tasks(generate_world(seed=0), seed=0)


def test_course_line_has_exactly_the_agreed_keys(tasks):
    line = build_dataset(tasks[:1], style="full")[0]
    task = tasks[0]
    assert list(line) == COURSE_KEYS
    assert line["messages"] == [
        {"role": "developer", "content": COURSE_INSTRUCTIONS},
        {"role": "user", "content": task.question},
    ]
    assert line["tools"] == toolbox.specs()
    assert line["task_id"] == "t0001"
    assert line["reference_answer"] == task.answer
    assert line["reference_value"] == task.answer_value
    assert (line["unit"], line["task_type"], line["tier"]) == (task.unit, task.task_type, task.tier)
    assert line["evidence"] == list(task.evidence)
    assert line["min_tool_calls"] == task.min_tool_calls
    assert (line["world_seed"], line["corpus_style"]) == (0, "full")


def test_compact_lines_take_the_compact_evidence(tasks):
    differs = next(t for t in tasks if t.compact_evidence != t.evidence)
    line = build_dataset([differs], style="compact")[0]
    assert line["evidence"] == list(differs.compact_evidence)
    assert line["min_tool_calls"] == differs.compact_min_tool_calls
    assert line["corpus_style"] == "compact"


def test_course_dataset_is_valid_and_reproducible():
    lines = course_dataset(seed=0)
    assert len(lines) == 100
    assert lines == course_dataset(seed=0)
    report = validate_records(lines, tool_names=toolbox.names)
    assert report.findings == []


def test_each_line_owns_its_tool_specs(tasks):
    first, second = build_dataset(tasks[:2])
    first["tools"][0]["function"]["name"] = "changed"
    assert second["tools"][0]["function"]["name"] == "search"


def test_own_tasks_keep_their_extra_fields():
    lines = build_dataset(
        [
            {"question": "Capital of France?", "answer": "Paris", "id": "geo-1", "region": "EU"},
            {"question": "2+2?", "answer": 4},
        ],
        instructions="Answer briefly.",
    )
    assert lines[0] == {
        "messages": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of France?"},
        ],
        "task_id": "geo-1",
        "reference_answer": "Paris",
        "region": "EU",
    }
    assert lines[1]["task_id"] == "t0002" and lines[1]["reference_answer"] == "4"


def test_own_tasks_without_instructions_have_only_the_question():
    (line,) = build_dataset([{"question": "q", "answer": "a"}], tools=course_tool_specs())
    assert line["messages"] == [{"role": "user", "content": "q"}]
    assert tool_names(line["tools"]) == toolbox.names


def test_an_own_task_without_an_answer_is_named():
    with pytest.raises(ValueError, match=r"task 1 has no answer \(keys: \['question'\]\)"):
        build_dataset([{"question": "a", "answer": "b"}, {"question": "c"}])


def test_unknown_style_is_refused(tasks):
    with pytest.raises(ValueError, match="style must be one of full, compact"):
        build_dataset(tasks[:1], style="tiny")


def test_write_then_load_round_trips(tmp_path):
    lines = course_dataset(seed=1, n=12)
    path = write_jsonl(lines, tmp_path / "d.jsonl")
    assert load_jsonl(path) == lines
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_tool_specs_come_from_the_service_over_http():
    app = FastAPI()

    @app.get("/tools")
    def tools() -> list[dict]:
        return toolbox.specs()

    with serve_in_background(app) as base_url:
        specs = fetch_tool_specs(base_url)
    assert specs == toolbox.specs()
    assert tool_names(specs) == ["search", "list_files", "read_file", "calculator"]


def test_the_committed_course_files_are_what_the_builder_writes(tmp_path):
    """notebooks/data/*.jsonl (read by later notebooks) are reproducible byte for byte."""
    committed = Path(__file__).resolve().parents[1] / "notebooks" / "data"
    written = write_course_files(tmp_path)
    for name, path in written.items():
        assert path.read_bytes() == (committed / f"{name}.jsonl").read_bytes(), name
    ids = {name: [line["task_id"] for line in load_jsonl(path)] for name, path in written.items()}
    assert ids["train"] == ids["train_compact"] and ids["valid"] == ids["valid_compact"]
    assert (len(ids["train"]), len(ids["valid"])) == (80, 20)
    report = validate_file(
        written["valid"], split="validation", tool_names=toolbox.names, other_split=written["train"]
    )
    assert report.findings == []
