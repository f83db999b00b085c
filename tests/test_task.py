"""The task file: one object every backend takes; secrets only as references, never stored."""

import json

import pytest

from rftkit.task import RFTTask, TaskSecretError, TaskTool

GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
          "reference": "{{item.reference_answer}}", "operation": "eq"}  # fmt: skip
LINE = {"messages": [{"role": "user", "content": "2+2?"}], "reference_answer": "4"}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "data").mkdir()
    for name in ("train", "valid"):
        (tmp_path / "data" / f"{name}.jsonl").write_text(json.dumps(LINE) + "\n")
    return tmp_path


def make(folder, **changes) -> RFTTask:
    fields = {
        "name": "arith",
        "training_file": "data/train.jsonl",
        "validation_file": "data/valid.jsonl",
        "grader": GRADER,
        "tools": [TaskTool(name="calc", server_url="https://tools.example/call",
                           headers={"Authorization": "Bearer ${CALC_TOKEN}"})],
        "hyperparameters": {"n_epochs": 2, "compute_multiplier": "auto"},
    } | changes  # fmt: skip
    return RFTTask.in_folder(folder, **fields)


def test_a_task_saves_beside_its_data_and_loads_back_from_anywhere(folder, monkeypatch):
    task = make(folder)
    path = task.save(folder / "task.json")
    stored = json.loads(path.read_text())
    assert stored["training_file"] == "data/train.jsonl"
    assert stored["tools"][0]["headers"] == {"Authorization": "Bearer ${CALC_TOKEN}"}
    monkeypatch.chdir("/")
    loaded = RFTTask.load(path)
    assert loaded.items("train") == [LINE] and loaded.items("validation") == [LINE]
    assert loaded.content_hash() == task.content_hash()


def test_header_references_resolve_and_a_missing_variable_is_named(folder):
    task = make(folder)
    (tool,) = task.job_tools({"CALC_TOKEN": "s3cret-value"})
    assert tool.headers == {"Authorization": "Bearer s3cret-value"}
    with pytest.raises(TaskSecretError, match="CALC_TOKEN") as error:
        task.job_tools({})
    assert "s3cret" not in str(error.value)
    method = task.reinforcement_method({"CALC_TOKEN": "s3cret-value"})
    assert method["reinforcement"]["tools"][0]["headers"]["Authorization"].endswith("value")
    shown = task.reinforcement_method(redact=True)
    assert shown["reinforcement"]["tools"][0]["headers"] == {"Authorization": "**********"}
    assert shown["reinforcement"]["max_episode_steps"] == 10


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer sk-live-123"}, {"X-Api-Key": "abc"}, {"Cookie": "x=1"}]
)
def test_a_literal_secret_cannot_be_put_in_a_task(folder, headers):
    with pytest.raises(ValueError, match="references to environment variables"):
        TaskTool(name="calc", server_url="https://t.example", headers=headers)
    endpoint = {"type": "endpoint", "name": "g", "url": "https://g.example", "headers": headers}
    with pytest.raises(ValueError, match="literal value"):
        make(folder, grader=endpoint)


def test_endpoint_grader_headers_resolve_from_the_environment(folder):
    endpoint = {"type": "multi", "name": "m", "calculate_output": "g",
                "graders": {"g": {"type": "endpoint", "name": "g", "url": "https://g.example",
                                  "headers": {"X-Functions-Key": "${GRADER_KEY}"}}}}  # fmt: skip
    task = make(folder, grader=endpoint)
    resolved = task.resolved_grader({"GRADER_KEY": "k-1"})
    assert resolved["graders"]["g"]["headers"] == {"X-Functions-Key": "k-1"}
    assert task.grader["graders"]["g"]["headers"] == {"X-Functions-Key": "${GRADER_KEY}"}
    with pytest.raises(TaskSecretError, match=r"grader\.graders\.g\.headers\.X-Functions-Key"):
        task.resolved_grader({})


def test_the_hash_follows_the_data_and_the_job_shape_but_not_names_or_secrets(folder):
    task = make(folder)
    first = task.content_hash()
    assert make(folder, name="renamed").content_hash() == first
    assert make(folder, hyperparameters={"n_epochs": 3}).content_hash() != first
    assert make(folder, model="gpt-5-2025-08-07").content_hash() != first
    task.job_tools({"CALC_TOKEN": "a"})  # resolving a secret changes nothing stored
    assert task.content_hash() == first
    (folder / "data" / "train.jsonl").write_text(json.dumps(LINE) + "\n\n")
    assert task.content_hash() != first


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hyperparameters": {"learning_rate": 1}}, "unknown learning_rate"),
        ({"hyperparameters": {"n_epochs": 0}}, "positive number"),
        ({"hyperparameters": {"reasoning_effort": "max"}}, "reasoning_effort"),
        ({"suffix": "x" * 65}, "suffix"),
        ({"tools": [TaskTool(name="a", server_url="https://x"),
                    TaskTool(name="a", server_url="https://y")]}, "listed more than once"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_naming_the_field(folder, changes, message):
    with pytest.raises(ValueError, match=message):
        make(folder, **changes)


def test_a_bad_task_file_is_named_with_what_is_wrong(folder):
    path = folder / "task.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"task\.json: not JSON"):
        RFTTask.load(path)
    make(folder).save(path)
    (folder / "data" / "valid.jsonl").unlink()
    with pytest.raises(ValueError, match="validation file .* does not exist"):
        RFTTask.load(path)
    with pytest.raises(ValueError, match="cannot read"):
        RFTTask.load(folder)


def test_repr_shows_references_only(folder):
    task = make(folder)
    task.job_tools({"CALC_TOKEN": "never-shown"})
    assert "never-shown" not in repr(task) and "<string_check grader>" in repr(task)
