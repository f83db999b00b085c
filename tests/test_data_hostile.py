"""No input file crashes the dataset validator (issue 15): hostile lines become findings at their
line and field, and what cannot be read at all is exit status 2 with one clear line."""

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_data_validate import GRADER, SERVED, codes_at, good_lines, write

from rftkit.cli import main
from rftkit.data import grader_item_variables, validate_file, validate_records
from rftkit.data.jsonl import UnreadableFileError, read_lines

FUZZ = settings(max_examples=100, deadline=3000, database=None)


def nested_schema(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(
    "hostile",
    [
        "[" * 1500 + "]" * 1500,
        '{"messages": ' + "[" * 1500 + "]" * 1500 + "}",
        "[" * 5000,
        '{"a":' * 1500 + "1" + "}" * 1500,
    ],
    ids=["array", "in messages", "unclosed", "objects"],
)
def test_a_line_nested_1500_deep_is_a_finding_and_the_rest_is_read(tmp_path, hostile):
    lines: list = good_lines()
    lines[3] = hostile
    lines[7]["messages"][0]["role"] = "system"
    report = validate_file(write(tmp_path, lines))
    assert codes_at(report) == {("nesting_too_deep", 4), ("system_role", 8)}
    assert report.lines_read == 12


def test_a_deeply_nested_tool_schema_is_a_finding_at_its_field(tmp_path):
    lines: list = good_lines()
    lines[2]["tools"][0]["function"]["parameters"] = nested_schema(60)  # 120 levels of JSON
    lines[5]["tools"][0]["function"]["parameters"] = {"type": "object"}
    deep = '{"type": "object", "properties": {"a": ' * 1500 + "{}" + "}}" * 1500
    lines[5] = json.dumps(lines[5]).replace('{"type": "object"}', deep, 1)  # json.dumps can't
    report = validate_file(write(tmp_path, lines), tool_names=SERVED)
    found = {(f.code, f.line, f.field) for f in report.findings}
    assert found == {
        ("tool_schema_too_deep", 3, "tools[0].function.parameters"),
        ("nesting_too_deep", 6, "<line>"),
    }


def test_deep_records_in_memory_are_findings_too():
    lines = good_lines()
    lines[2]["tools"][0]["function"]["parameters"] = nested_schema(60)
    lines[4]["tools"][0]["function"]["parameters"] = nested_schema(150)
    lines[6]["deep"] = nested_schema(1500)
    report = validate_records(lines)
    assert codes_at(report) == {
        ("tool_schema_too_deep", 3),
        ("nesting_too_deep", 5),
        ("not_json", 7),
    }


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ('"reference_answer": NaN', "non_finite_number", "<line>"),
        ('"reference_answer": -Infinity', "non_finite_number", "<line>"),
        ('"reference_answer": 1e999', "non_finite_number", "<line>"),
        ('"reference_answer": "4", "reference_answer": "5"', "duplicate_key", "<line>"),
        ('"reference_answer": "4\\ud800"', "lone_surrogate", "extra"),
        ('"reference_answer": ' + "9" * 5000, "number_too_long", "<line>"),
    ],
)
def test_what_strict_json_forbids_is_an_error_at_its_line(tmp_path, text, code, field):
    lines: list = good_lines()
    line = json.dumps(lines[4])
    lines[4] = line[:-1] + ", " + text.replace("reference_answer", "extra") + "}"
    report = validate_file(write(tmp_path, lines))
    assert [(f.code, f.line, f.field) for f in report.errors] == [(code, 5, field)]


def test_every_kind_on_one_line_is_reported_and_the_line_still_checked(tmp_path):
    lines: list = good_lines()
    bad = dict(lines[4], messages=[{"role": "system", "content": "x"}])
    text = json.dumps(bad)[:-1] + ', "a": NaN, "a": "\\udc00"}'
    lines[4] = text
    report = validate_file(write(tmp_path, lines))
    assert [f.code for f in report.findings if f.line == 5] == [
        "non_finite_number",
        "duplicate_key",
        "lone_surrogate",
        "system_role",
    ]


def test_an_unclosed_grader_template_is_an_error_on_the_grader(tmp_path):
    grader = {**GRADER, "reference": "{{item.reference_answer"}
    report = validate_file(write(tmp_path, good_lines()), grader=grader)
    [finding] = report.findings
    assert (finding.code, finding.field, finding.file) == (
        "grader_template_unclosed",
        "grader.reference",
        "<grader>",
    )
    assert "'{{item.reference_answer' is never closed" in finding.message
    assert grader_item_variables(grader) == []  # the literal text reads no item field


def test_json_quoted_in_a_prompt_is_no_unclosed_template(tmp_path):
    grader = {
        "type": "score_model",
        "name": "judge",
        "model": "o4-mini",
        "input": [{"role": "user", "content": 'Answer {"score": {"value": 1}} for {{item.id}}'}],
    }
    lines = [dict(line, id=str(n)) for n, line in enumerate(good_lines())]
    assert validate_file(write(tmp_path, lines), grader=grader).ok


def test_a_hostile_grader_file_is_a_finding_not_a_crash(tmp_path):
    grader = tmp_path / "grader.json"
    grader.write_text('{"type": ' + "[" * 5000)
    report = validate_file(write(tmp_path, good_lines()), grader=grader)
    assert codes_at(report) == {("grader_unreadable", None)}
    assert "deeper than" in report.findings[0].message


@pytest.mark.parametrize("kind", ["directory", "device", "pipe", "missing", "dangling link"])
def test_what_is_not_a_readable_file_is_refused_before_reading(tmp_path, kind):
    path = {
        "directory": tmp_path,
        "device": "/dev/zero",
        "pipe": tmp_path / "fifo",
        "missing": tmp_path / "nope.jsonl",
        "dangling link": tmp_path / "link.jsonl",
    }[kind]
    if kind == "pipe":
        os.mkfifo(path)  # opening it for reading would block forever
    if kind == "dangling link":
        os.symlink(tmp_path / "gone", path)
    with pytest.raises(UnreadableFileError, match="regular file|cannot read"):
        read_lines(path)


@pytest.mark.parametrize("target", ["directory", "/dev/zero", "pipe"])
def test_the_cli_exits_2_with_one_line_on_what_it_cannot_read(tmp_path, capsys, target):
    path = {"directory": tmp_path, "/dev/zero": "/dev/zero", "pipe": tmp_path / "p"}[target]
    if target == "pipe":
        os.mkfifo(path)
    for command in (["validate", str(path)], ["split", str(path), "--train", "a", "--valid", "b"]):
        assert main(["data", *command]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path} is a ") and err.count("\n") == 1


def test_the_cli_exits_2_on_an_unreadable_file(tmp_path, capsys):
    if os.geteuid() == 0:
        path = tmp_path / "loop.jsonl"  # root reads anything; a symlink loop it cannot
        os.symlink(path, path)
    else:
        path = write(tmp_path, good_lines())
        path.chmod(0)
    assert main(["data", "validate", str(path)]) == 2
    assert "cannot read it" in capsys.readouterr().err


JSONISH = st.text(alphabet='[]{}",:\\ 0123456789.eE-+truefalsnNIiyu\ud800', max_size=300)


@FUZZ
@given(st.lists(JSONISH | st.binary(max_size=200).map(lambda b: b.decode("latin-1")), max_size=6))
def test_any_file_gives_findings_never_an_exception(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("fuzz") / "data.jsonl"
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    report = validate_file(path, grader=GRADER, tool_names=SERVED)
    physical = data.count(b"\n") + 1
    assert report.lines_read <= physical
    assert all(f.line is None or 1 <= f.line <= physical for f in report.findings)


@settings(FUZZ, max_examples=40)
@given(st.data())
def test_any_mutation_of_a_good_line_gives_findings_never_an_exception(data):
    lines = good_lines()
    values = st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
        max_leaves=10,
    )
    target = lines[data.draw(st.integers(0, len(lines) - 1))]
    keys = ["messages", "tools", "reference_answer", "extra"]
    target[data.draw(st.sampled_from(keys))] = data.draw(values)
    report = validate_records(lines, grader=GRADER, tool_names=SERVED)
    assert report.lines_read == len(lines)


def test_the_cli_reports_a_hostile_file_as_findings(tmp_path, capsys):
    path = write(tmp_path, ["[" * 5000, '{"a": NaN, "a": 1}', '"\\ud800"'])
    assert main(["data", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    for code in ("nesting_too_deep", "non_finite_number", "duplicate_key", "lone_surrogate"):
        assert f"[{code}]" in out
