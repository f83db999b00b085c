"""``rftkit graders``: course, validate, run (serve is create_grader_app, tested over HTTP)."""

import json

from rftkit.cli import main
from rftkit.course.grader import course_grader


def test_course_prints_the_config(capsys):
    assert main(["graders", "course"]) == 0
    assert json.loads(capsys.readouterr().out) == course_grader()


def test_validate_names_file_and_field(tmp_path, capsys):
    good, bad, broken = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "broken.json"
    good.write_text(json.dumps(course_grader()))
    bad.write_text(json.dumps({**course_grader(), "calculate_output": "correct * speed"}))
    broken.write_text('{"type": "multi",\n "name": }')
    assert main(["graders", "validate", str(good)]) == 0
    assert main(["graders", "validate", str(bad)]) == 1
    assert f"{bad}: calculate_output: uses speed" in capsys.readouterr().err
    try:
        main(["graders", "validate", str(broken)])
    except SystemExit as exc:
        assert str(exc).startswith(f"{broken}:2:")
    else:
        raise AssertionError("invalid JSON must stop the command")


def test_validate_prints_warnings_naming_file_and_field(tmp_path, capsys):
    grader = tmp_path / "g.json"
    source = "import torch\ndef grade(sample, item):\n    return 1.0\n"
    grader.write_text(json.dumps({"type": "python", "source": source}))  # nameless, as printed
    assert main(["graders", "validate", str(grader)]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"{grader}: warning: source: imports torch, not in OpenAI's")
    assert captured.out == f"{grader}: valid\n"


def test_run_prints_the_result(tmp_path, capsys):
    grader, item = tmp_path / "g.json", tmp_path / "item.json"
    grader.write_text(json.dumps(course_grader()))
    item.write_text(
        json.dumps(
            {
                "reference_answer": "911.4",
                "reference_value": 911.4,
                "unit": "USD millions",
                "min_tool_calls": 0,
            }
        )
    )
    assert main(["graders", "run", str(grader), "--sample", "911", "--item", str(item)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reward"] == 0.5
    assert result["sub_rewards"] == {"correct": 0.5, "evidence": 1.0, "tools": 1.0}


def test_run_takes_the_tool_calls_so_the_tools_term_is_exercised(tmp_path, capsys):
    grader, item, tools = tmp_path / "g.json", tmp_path / "item.json", tmp_path / "calls.json"
    grader.write_text(json.dumps(course_grader()))
    item.write_text(json.dumps({"reference_answer": "911.4", "reference_value": 911.4,
                                "unit": "USD millions", "min_tool_calls": 2}))  # fmt: skip
    tools.write_text(json.dumps([
        {"name": "search", "arguments": {"query": "revenue"}},  # the short form
        {"id": "call_9", "type": "function",  # as sample.output_tools holds it
         "function": {"name": "read_file", "arguments": '{"path": "a.md"}'}},
    ]))  # fmt: skip
    command = ["graders", "run", str(grader), "--sample", "911.4", "--item", str(item)]
    assert main(command) == 0
    without = json.loads(capsys.readouterr().out)
    assert main([*command, "--tools-file", str(tools)]) == 0
    called = json.loads(capsys.readouterr().out)
    assert without["sub_rewards"]["tools"] == 0.0 and without["reward"] < 1.0
    assert called["sub_rewards"] == {"correct": 1.0, "evidence": 1.0, "tools": 1.0}
    assert called["reward"] == 1.0
    tools.write_text(json.dumps([{"name": "search"}, {"tool": "x"}]))
    try:
        main([*command, "--tools-file", str(tools)])
    except SystemExit as exc:
        assert str(exc) == f"{tools}: [1]: a tool call needs 'name' and 'arguments' " \
            "(or a chat-completions 'function')"
    else:
        raise AssertionError("a malformed call must stop the command")


def test_serve_refuses_to_start_without_a_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GRADER_TOKEN", raising=False)
    grader = tmp_path / "g.json"
    grader.write_text(json.dumps(course_grader()))
    assert main(["graders", "serve", str(grader)]) == 2
    assert "GRADER_TOKEN" in capsys.readouterr().err
