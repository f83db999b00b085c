"""The catalogue of malformed RFT files: each case yields the right finding at the right line."""

import codecs
import json
from pathlib import Path

import pytest

from rftkit.course.dataset import course_tool_specs
from rftkit.data import (
    DatasetValidationError,
    Profile,
    build_dataset,
    grader_item_variables,
    validate_file,
    validate_records,
    write_jsonl,
)

SPECS = course_tool_specs()
SERVED = [spec["function"]["name"] for spec in SPECS]
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.reference_answer }}",
    "operation": "eq",
}


def good_lines(n: int = 12) -> list[dict]:
    tasks = [{"question": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(n)]
    return build_dataset(tasks, instructions="Use the calculator.", tools=SPECS)


def write(tmp_path: Path, lines: list, name: str = "data.jsonl") -> Path:
    """Lines given as dicts are dumped; bytes and str are written as they are."""
    chunks = []
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line)
        chunks.append(line.encode("utf-8") if isinstance(line, str) else line)
    path = tmp_path / name
    path.write_bytes(b"\n".join(chunks) + b"\n")
    return path


def codes_at(report) -> set[tuple[str, int | None]]:
    return {(f.code, f.line) for f in report.findings}


def test_a_clean_file_has_no_findings(tmp_path):
    report = validate_file(write(tmp_path, good_lines()), grader=GRADER, tool_names=SERVED)
    assert report.ok and report.findings == [] and report.lines_read == 12
    assert report.to_frame().empty


def test_truncated_last_line(tmp_path):
    lines = [json.dumps(line) for line in good_lines()]
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(lines)[:-40], encoding="utf-8")  # cut inside line 12, no newline
    report = validate_file(path)
    assert codes_at(report) == {("truncated_line", 12)}
    assert report.lines_read == 12


def test_invalid_json_in_the_middle_keeps_reading(tmp_path):
    lines: list = good_lines()
    lines[4] = json.dumps(lines[4]).replace('"messages"', "'messages'")
    report = validate_file(write(tmp_path, lines))
    assert codes_at(report) == {("invalid_json", 5)}
    assert report.lines_read == 12
    assert "column 2" in report.findings[0].message


def test_a_bom_is_reported_and_the_line_still_checked(tmp_path):
    lines: list = good_lines()
    system = {"messages": [{"role": "system", "content": "x"}], "reference_answer": "1"}
    lines[0] = codecs.BOM_UTF8 + json.dumps(system).encode()
    report = validate_file(write(tmp_path, lines))
    bom = next(f for f in report.findings if f.code == "bom")
    assert bom.line == 1 and "without it the line parses" in bom.message
    # The line behind the mark is still checked: its system role is found too.
    assert ("system_role", 1) in codes_at(report)


def test_a_bom_before_broken_json_says_so(tmp_path):
    lines: list = good_lines()
    lines[0] = codecs.BOM_UTF8 + b'{"messages": ['
    report = validate_file(write(tmp_path, lines))
    bom = next(f for f in report.findings if f.code == "bom")
    assert "does not parse either" in bom.message
    assert ("truncated_line", 1) in codes_at(report)


def test_unicode_line_separators_inside_strings_do_not_split_lines(tmp_path):
    lines = good_lines()
    lines[3]["messages"][1]["content"] = "first\u2028second\x85third"
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    report = validate_file(path)
    assert report.findings == [] and report.lines_read == 12


def test_non_utf8_bytes(tmp_path):
    lines: list = good_lines()
    lines[2] = json.dumps(lines[2]).replace("What", "Caf\u00e9").encode("latin-1")
    report = validate_file(write(tmp_path, lines))
    assert codes_at(report) == {("not_utf8", 3)}
    assert "0xe9" in report.findings[0].message or "\\xe9" in report.findings[0].message


def test_a_line_that_is_not_an_object(tmp_path):
    lines: list = good_lines()
    lines[3] = "[1, 2, 3]"
    assert codes_at(validate_file(write(tmp_path, lines))) == {("not_an_object", 4)}


def test_a_blank_line_is_a_warning_and_counts_nothing(tmp_path):
    lines: list = good_lines()
    lines.insert(5, "   ")
    report = validate_file(write(tmp_path, lines))
    assert codes_at(report) == {("blank_line", 6)}
    assert report.ok and report.lines_read == 12


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda r: r["messages"][0].update(role="system"), "system_role", "messages[0].role"),
        (lambda r: r["messages"][1].update(role="function"), "unknown_role", "messages[1].role"),
        (
            lambda r: r["messages"].append({"role": "assistant", "content": "4"}),
            "last_message_role",
            "messages[2].role",
        ),
        (lambda r: r.pop("messages"), "missing_messages", "messages"),
        (lambda r: r.update(messages=[]), "bad_messages", "messages"),
        (lambda r: r["messages"].insert(0, "be brief"), "bad_message", "messages[0]"),
        (lambda r: r["messages"][1].update(content=42), "bad_content", "messages[1].content"),
        (lambda r: r.update(tools={"search": {}}), "bad_tools", "tools"),
        (
            lambda r: r["messages"][1].update(
                content=[{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]
            ),
            "non_text_content",
            "messages[1].content[0]",
        ),
        (
            lambda r: r["messages"].insert(1, {"role": "tool", "content": "42"}),
            "missing_tool_call_id",
            "messages[1].tool_call_id",
        ),
        (
            lambda r: r["tools"][0]["function"]["parameters"]["properties"]["query"].update(
                type="strng"
            ),
            "tool_schema",
            "tools[0].function.parameters.properties.query.type",
        ),
        (
            lambda r: r["tools"][1]["function"].update(parameters={"type": "string"}),
            "tool_schema",
            "tools[1].function.parameters",
        ),
        (
            lambda r: r["tools"].__setitem__(0, {"type": "function", "name": "search"}),
            "tool_format",
            "tools[0]",
        ),
        (
            lambda r: r["tools"][2]["function"].update(name="open_file"),
            "unknown_tool",
            "tools[2].function.name",
        ),
        (
            lambda r: r["tools"][2]["function"].update(name="read file"),
            "tool_name_invalid",
            "tools[2].function.name",
        ),
        (lambda r: r["tools"].append(r["tools"][0]), "duplicate_tool", "tools[4].function.name"),
        (
            lambda r: r.pop("reference_answer"),
            "template_variable_missing",
            "item.reference_answer",
        ),
    ],
)
def test_each_broken_line_is_found_at_its_line_and_field(tmp_path, mutate, code, field):
    lines = good_lines()
    mutate(lines[6])
    report = validate_file(write(tmp_path, lines), grader=GRADER, tool_names=SERVED)
    errors = [(f.code, f.line, f.field) for f in report.errors]
    assert errors == [(code, 7, field)]
    assert report.findings[0].hint


def test_a_line_with_nothing_for_the_grader_is_a_warning(tmp_path):
    lines = good_lines()
    lines[4] = {"messages": lines[4]["messages"]}
    report = validate_file(write(tmp_path, lines))
    assert report.ok and codes_at(report) == {("no_reference_fields", 5)}


def test_an_assistant_tool_call_without_content_is_fine(tmp_path):
    lines = good_lines()
    call = {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": "{}"}}
    lines[0]["messages"][1:1] = [
        {"role": "user", "content": "Earlier question"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
        {"role": "assistant", "content": [{"type": "text", "text": "It is 2."}]},
    ]
    assert validate_file(write(tmp_path, lines), tool_names=SERVED).findings == []


def test_tool_names_are_only_checked_against_a_service_when_given(tmp_path):
    lines = good_lines()
    lines[6]["tools"][2]["function"]["name"] = "open_file"
    assert validate_file(write(tmp_path, lines)).ok
    report = validate_file(write(tmp_path, lines), tool_names=SERVED)
    assert "it serves: calculator, list_files, read_file, search" in report.errors[0].message


def test_a_line_without_tools_is_a_warning_when_a_service_is_named(tmp_path):
    lines = good_lines()
    del lines[1]["tools"]
    report = validate_file(write(tmp_path, lines), tool_names=SERVED)
    assert report.ok and codes_at(report) == {("no_tools", 2)}


def test_a_nested_template_variable_missing_on_some_lines(tmp_path):
    lines = good_lines()
    for line in lines:
        line["ground_truth"] = {"date": "2025-03-31"}
    del lines[2]["ground_truth"]["date"]
    del lines[9]["ground_truth"]
    grader = {
        "type": "multi",
        "name": "both",
        "calculate_output": "0.5 * a + 0.5 * b",
        "graders": {
            "a": GRADER,
            "b": {
                "type": "score_model",
                "name": "judge",
                "model": "o4-mini",
                "input": [
                    {"role": "user", "content": [{"type": "input_text", "text": "Date?"}]},
                    {"role": "user", "content": "Expected {{item.ground_truth.date}}"},
                ],
            },
            "c": {"type": "python", "name": "py", "source": "# {{item.never_checked}}"},
        },
    }
    grader_path = tmp_path / "grader.json"
    grader_path.write_text(json.dumps(grader))
    report = validate_file(write(tmp_path, lines), grader=grader_path)
    assert codes_at(report) == {("template_variable_missing", 3), ("template_variable_missing", 10)}
    first = report.findings[0]
    assert first.field == "item.ground_truth.date"
    assert "grader.graders.b.input[1].content" in first.message
    assert "no field 'date'" in first.message


def test_grader_walk_skips_python_source_and_sample_variables():
    grader = {"type": "python", "name": "p", "source": "x = '{{item.a}}'"}
    assert grader_item_variables(grader) == []
    assert grader_item_variables(GRADER) == [("grader.reference", "item.reference_answer")]


def test_items_carry_the_fields_the_service_adds(tmp_path):
    """The grader's item gains ``tools`` and ``parallel_tool_calls`` (docs/hosted-api.md §3.3)."""
    lines = good_lines()
    for line in lines:
        del line["tools"]
    grader = {**GRADER, "reference": "{{item.parallel_tool_calls}} {{item.tools}}"}
    assert validate_file(write(tmp_path, lines), grader=grader).ok


def test_an_unparseable_grader_template_is_reported_on_the_grader(tmp_path):
    grader = {**GRADER, "reference": "{{ reference_answer }}"}
    report = validate_file(write(tmp_path, good_lines()), grader=grader)
    assert codes_at(report) == {("grader_template_invalid", None)}


def test_an_unreadable_grader_file_is_a_finding(tmp_path):
    grader = tmp_path / "grader.json"
    grader.write_text('{"type": "string_check",\n "name": }')
    report = validate_file(write(tmp_path, good_lines()), grader=grader)
    assert codes_at(report) == {("grader_unreadable", 2)}
    assert report.findings[0].file == str(grader)


def test_too_few_lines_is_an_error_for_azure_and_a_warning_otherwise(tmp_path):
    path = write(tmp_path, good_lines(3))  # OpenAI's RFT guide shows 3-line files
    for profile, severity in [
        (Profile(), "warning"),
        (Profile("openai"), "warning"),
        (Profile("azure"), "error"),
    ]:
        report = validate_file(path, profile=profile)
        assert [(f.code, f.severity) for f in report.findings] == [("too_few_lines", severity)]
        assert "Azure needs at least 10" in report.findings[0].message


def test_a_developer_message_last_is_an_error_only_for_azure(tmp_path):
    lines = good_lines()
    lines[2]["messages"].append({"role": "developer", "content": "Answer with digits."})
    path = write(tmp_path, lines)
    for profile, severity in [(Profile(), "warning"), (Profile("azure"), "error")]:
        [finding] = validate_file(path, profile=profile).findings
        assert (finding.code, finding.line, finding.severity) == (
            "last_message_developer",
            3,
            severity,
        )


@pytest.mark.parametrize(
    ("profile", "severity"),
    [
        (Profile(), "warning"),
        (Profile(model="o4-mini"), "warning"),
        (Profile("azure", "o4-mini-2025-04-16"), "error"),
        (Profile("openai", "gpt-5-mini"), None),
    ],
)
def test_image_parts_are_refused_for_o4_mini_when_the_platform_is_named(
    tmp_path, profile, severity
):
    lines = good_lines()
    image = {"type": "image_url", "image_url": {"url": "https://example.com/chart.png"}}
    lines[1]["messages"][1]["content"] = [{"type": "text", "text": "What does it show?"}, image]
    report = validate_file(write(tmp_path, lines), profile=profile)
    found = [(f.code, f.line, f.field, f.severity) for f in report.findings]
    expected = [("image_content", 2, "messages[1].content[1]", severity)] if severity else []
    assert found == expected


def test_an_unknown_platform_is_refused():
    with pytest.raises(ValueError, match="platform must be one of"):
        Profile("gcp")  # type: ignore[arg-type]


def test_validation_files_hold_at_most_a_thousand_lines(tmp_path):
    path = write(tmp_path, good_lines(1001))
    assert validate_file(path, split="train").ok
    report = validate_file(path, split="validation")
    assert codes_at(report) == {("too_many_lines", None)}
    assert "at most 1,000" in report.findings[0].message


def test_training_files_hold_at_most_fifty_thousand_lines(tmp_path):
    line = '{"messages": [{"role": "user", "content": "q%d"}], "a": 1}'
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(line % i for i in range(50_001)) + "\n")
    report = validate_file(path)
    assert codes_at(report) == {("too_many_lines", None)}
    assert report.lines_read == 50_001


def test_unknown_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="split must be one of train, validation"):
        validate_file(write(tmp_path, good_lines()), split="test")


def test_duplicates(tmp_path):
    lines = good_lines()
    lines[7] = json.loads(json.dumps(lines[1]))
    lines[10]["messages"][1]["content"] = lines[3]["messages"][1]["content"]
    report = validate_file(write(tmp_path, lines))
    assert codes_at(report) == {("duplicate_line", 8), ("duplicate_question", 11)}
    assert report.ok
    assert report.findings[0].message == "identical to line 2"
    assert report.findings[1].message == "asks the same question as line 4"


def test_leakage_between_splits(tmp_path):
    train = good_lines(12)
    valid = build_dataset(
        [{"question": f"Is {i} odd?", "answer": str(i % 2)} for i in range(12)],
        instructions="Use the calculator.",
        tools=SPECS,
    )
    valid[2] = json.loads(json.dumps(train[4]))  # the same task in both splits
    train_path = write(tmp_path, train, "train.jsonl")
    report = validate_file(write(tmp_path, valid, "valid.jsonl"), split="validation",
                           other_split=train_path)  # fmt: skip
    assert codes_at(report) == {("leakage", 3)}
    assert f"same question as line 5 of {train_path}" in report.findings[0].message


def test_an_answer_tasks_legitimately_share_is_allowed_but_the_same_question_is_not(tmp_path):
    def cli_task(question: str, answer: str, evidence: str) -> dict:
        return {"question": question, "answer": answer, "evidence": [evidence]}

    # Two different questions whose answer is the same flag, from the same page of the manual.
    train = build_dataset(
        [cli_task("Which flag skips the confirmation when deleting a project?", "--force",
                  "cli.md")]
        + [cli_task(f"What does {i} + {i} make?", str(2 * i), f"m{i}.md") for i in range(11)],
        instructions="Use the calculator.", tools=SPECS,
    )  # fmt: skip
    valid = build_dataset(
        [cli_task("Which flag overwrites an existing deployment without asking?", "--force",
                  "cli.md")]
        + [cli_task(f"What does {i} times 3 make?", str(3 * i), f"t{i}.md") for i in range(11)],
        instructions="Use the calculator.", tools=SPECS,
    )  # fmt: skip
    train_path = write(tmp_path, train, "train.jsonl")
    valid_path = write(tmp_path, valid, "valid.jsonl")
    check = {"split": "validation", "other_split": train_path}
    flagged = validate_file(valid_path, **check)
    assert codes_at(flagged) == {("leakage", 1)}
    assert "same evidence and answer as line 1" in flagged.findings[0].message
    assert validate_file(valid_path, shared_answers=["--force"], **check).findings == []
    # The allow-list never lets the same question through.
    valid[1] = json.loads(json.dumps(train[0]))
    write(tmp_path, valid, "valid.jsonl")
    again = validate_file(valid_path, shared_answers=["--force"], **check)
    assert codes_at(again) == {("leakage", 2)}
    assert "same question as line 1" in again.findings[0].message


def test_validation_loses_nothing(tmp_path):
    lines: list = good_lines()
    lines[3] = "not json"
    path = write(tmp_path, lines)
    before = path.read_bytes()
    report = validate_file(path)
    assert path.read_bytes() == before
    assert report.lines_read == 12


def test_raise_for_errors_lists_every_error_with_file_and_line(tmp_path):
    lines: list = good_lines()
    lines[1] = "{"
    lines[8]["messages"][0]["role"] = "system"
    path = write(tmp_path, lines)
    report = validate_file(path)
    with pytest.raises(DatasetValidationError) as caught:
        report.raise_for_errors()
    text = str(caught.value)
    assert "2 error(s)" in text
    assert f"{path}:2: error [truncated_line]" in text
    assert f"{path}:9: error [system_role] messages[0].role" in text
    assert len(caught.value.findings) == 2


def test_findings_table_has_one_row_per_finding(tmp_path):
    lines: list = good_lines()
    lines[1] = "{"
    frame = validate_file(write(tmp_path, lines)).to_frame()
    assert list(frame.columns) == ["file", "line", "field", "severity", "code", "message", "hint"]
    assert frame.loc[0, "line"] == 2 and frame.loc[0, "severity"] == "error"


def test_validate_records_numbers_lines_from_one():
    lines = good_lines()
    lines[0]["messages"][0]["role"] = "system"
    report = validate_records(lines, name="memory")
    assert codes_at(report) == {("system_role", 1)}
    assert report.file == "memory"


def test_written_files_validate_and_have_no_bom(tmp_path):
    path = write_jsonl(good_lines(), tmp_path / "out" / "data.jsonl")
    assert not path.read_bytes().startswith(codecs.BOM_UTF8)
    assert validate_file(path, grader=GRADER, tool_names=SERVED).findings == []
