"""The validator sees what a python grader reads: item keys found in its syntax tree, checked on
every line like template variables; keys the code computes are reported as uncheckable."""

from __future__ import annotations

import inspect

from rftkit.data import validate_records
from rftkit.data.grader_keys import python_item_reads
from rftkit.graders.sources import python_grader, tool_efficiency

SOURCE = """
import json

def expected(line):
    return line["reference"]["eta"]

def grade(sample, row):
    meta = row
    needed = meta.get("min_tool_calls", 1)
    if "notes" in row:
        extra = row["notes"]
    key = "dynamic"
    return float(expected(line=row) == sample["output_text"]) + row[key] * 0 + needed * 0
"""


def lines(**fields):
    return [
        {"messages": [{"role": "user", "content": f"question {n}?"}], **fields} for n in range(10)
    ]


def test_reads_are_found_through_aliases_helpers_and_nesting():
    reads = python_item_reads(SOURCE)
    assert reads.required == {("reference", "eta")}
    assert reads.optional == {("min_tool_calls",), ("notes",)}
    assert reads.undetermined == ["line 13: row[key]"]


def test_the_course_efficiency_source_reads_min_tool_calls_with_a_default():
    reads = python_item_reads(inspect.getsource(tool_efficiency))
    assert (reads.required, reads.optional) == (set(), {("min_tool_calls",)})


def test_a_missing_key_is_an_error_at_each_line_naming_the_key():
    grader = {
        "type": "multi",
        "graders": {"answer": {"type": "python", "name": "a", "source": SOURCE}},
        "calculate_output": "answer",
    }
    report = validate_records(
        [*lines(reference={"eta": "2026-12-04"}), *lines(reference={})][:12], grader=grader
    )
    errors = [f for f in report.errors if f.code == "grader_key_missing"]
    assert [f.line for f in errors] == [11, 12]
    assert errors[0].field == "reference.eta"
    assert "grader.graders.answer.source reads item['reference']['eta']" in errors[0].message
    optional = [f for f in report.warnings if f.code == "grader_key_missing_optional"]
    assert {f.field for f in optional} == {"min_tool_calls", "notes"}
    (undetermined,) = [f for f in report.warnings if f.code == "grader_key_undetermined"]
    assert "row[key]" in undetermined.message and undetermined.line is None


def test_lines_with_every_key_pass_and_a_broken_source_is_an_error_on_the_grader():
    grader = python_grader("efficiency", tool_efficiency)
    report = validate_records(lines(min_tool_calls=1), grader=grader)
    assert not [f for f in report.findings if f.code.startswith("grader_key")]
    broken = {"type": "python", "name": "b", "source": "def grade(sample, item:\n"}
    report = validate_records(lines(), grader=broken)
    assert [f.code for f in report.errors if f.line is None] == ["grader_source_invalid"]
