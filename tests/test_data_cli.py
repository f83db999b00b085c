"""``rftkit data validate | build | split``: output and exit status."""

import json
import subprocess
import sys

from fastapi import FastAPI

from rftkit.cli import main
from rftkit.data import load_jsonl
from rftkit.serving import serve_in_background
from tools_service.tools import toolbox


def test_build_validate_split_round_trip(tmp_path, capsys):
    data = tmp_path / "course.jsonl"
    assert main(["data", "build", str(data), "--seed", "0", "--style", "compact"]) == 0
    assert load_jsonl(data)[0]["corpus_style"] == "compact"
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    assert main(["data", "split", str(data), "--train", str(train), "--valid", str(valid)]) == 0
    assert "wrote 80 lines" in capsys.readouterr().out
    status = main(
        ["data", "validate", str(valid), "--split", "validation", "--against", str(train)]
    )
    assert status == 0
    assert capsys.readouterr().out.strip().endswith("20 lines, 0 error(s), 0 warning(s)")


def test_validate_prints_each_finding_and_fails(tmp_path, capsys):
    lines = load_jsonl_of_course(tmp_path)
    lines[3]["messages"][1]["role"] = "assistant"
    del lines[5]["reference_answer"]
    data = tmp_path / "broken.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    capsys.readouterr()
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps({"type": "string_check", "name": "g", "operation": "eq",
                                  "input": "{{sample.output_text}}",
                                  "reference": "{{item.reference_answer}}"}))  # fmt: skip
    assert main(["data", "validate", str(data), "--grader", str(grader)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{data}:4: error [last_message_role] messages[1].role")
    assert out[1].startswith(f"{data}:6: error [template_variable_missing]")
    assert out[2] == f"{data}: 100 lines, 2 error(s), 0 warning(s)"


def test_a_warning_on_every_line_prints_once_with_every_line_it_is_on(tmp_path, capsys):
    from rftkit.graders.sources import python_grader, tool_efficiency

    lines = load_jsonl_of_course(tmp_path)[:24]
    for line in lines:
        line.pop("min_tool_calls", None)
    lines[5]["min_tool_calls"] = 2  # one line has the key: it must not be listed
    data = tmp_path / "no_min_calls.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(python_grader("efficiency", tool_efficiency)))
    capsys.readouterr()
    assert main(["data", "validate", str(data), "--grader", str(grader)]) == 0
    out = capsys.readouterr().out.splitlines()
    optional = [text for text in out if "grader_key_missing_optional" in text]
    assert optional == [
        f"{data}: lines 1-5, 7-24 (23 lines): warning [grader_key_missing_optional] "
        "min_tool_calls: grader.source reads item['min_tool_calls'] with a default, and this "
        "line does not have it (fix: add the field if the default is not meant)"
    ]
    assert out[-1].endswith("24 lines, 0 error(s), 23 warning(s)")


def test_validate_checks_tool_names_against_a_running_service(tmp_path, capsys):
    lines = load_jsonl_of_course(tmp_path)
    lines[0]["tools"][0]["function"]["name"] = "grep"
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    app = FastAPI()
    app.get("/tools")(lambda: toolbox.specs())
    with serve_in_background(app) as url:
        assert main(["data", "validate", str(data), "--tools", url]) == 1
    assert "[unknown_tool] tools[0].function.name" in capsys.readouterr().out


def test_an_unreachable_service_or_missing_file_is_status_2(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    load_jsonl_of_course(tmp_path, data)
    app = FastAPI()
    with serve_in_background(app) as url:  # serves no /tools: 404
        assert main(["data", "validate", str(data), "--tools", url]) == 2
    assert "cannot get the tool specs" in capsys.readouterr().err
    assert main(["data", "validate", str(tmp_path / "nope.jsonl")]) == 2


def test_build_from_own_tasks(tmp_path, capsys):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"question": "2+2?", "answer": "4", "topic": "math"}\n')
    out = tmp_path / "out.jsonl"
    args = ["data", "build", str(out), "--tasks", str(tasks), "--instructions", "Be brief."]
    assert main(args) == 0
    assert load_jsonl(out) == [
        {
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "2+2?"},
            ],
            "task_id": "t0001",
            "reference_answer": "4",
            "topic": "math",
        }
    ]


def test_split_reports_an_unreadable_file(tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"messages": []}\n{oops\n')
    args = [
        "data",
        "split",
        str(data),
        "--train",
        str(tmp_path / "t"),
        "--valid",
        str(tmp_path / "v"),
    ]
    assert main(args) == 1
    assert f"{data}:2: error [invalid_json]" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_the_installed_command_exits_non_zero_on_errors(tmp_path):
    data = tmp_path / "few.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}], "a": 1}\n')
    result = subprocess.run(
        [sys.executable, "-m", "rftkit", "data", "validate", str(data), "--platform", "azure"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "[too_few_lines]" in result.stdout


def load_jsonl_of_course(tmp_path, path=None):
    path = path or tmp_path / "course.jsonl"
    assert main(["data", "build", str(path)]) == 0
    return load_jsonl(path)
