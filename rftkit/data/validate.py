"""Check an RFT JSONL file against the rules OpenAI and Azure enforce or recommend.

The rules (``docs/hosted-api.md`` §3, §5.1):

- ``messages`` is required; roles are developer, user, assistant, tool (``system`` is not
  accepted); content is text (or images) only.
- ``tools`` is optional, in chat-completions function format with a valid JSON schema; for Agent
  RFT every tool name must be one the job's tool service serves.
- Every other key is kept for the grader: each ``{{item.…}}`` the grader reads must resolve on
  every line, and so must each ``item["key"]`` a python grader's source reads (found in its
  syntax tree by ``rftkit.data.grader_keys``; an ``item.get("key")`` that is missing is a
  warning, and a key the source computes, ``item[name]``, is a warning on the grader).
- A training file holds at most 50,000 lines, a validation file at most 1,000 (OpenAI's RFT guide).

Rules one platform states and the other does not are errors only under a :class:`Profile` that
names that platform (a task's ``platform``), and warnings otherwise:

- at least 10 lines per file: Microsoft's Agent RFT sample (docs/hosted-api.md §3.2; Azure); OpenAI
  documents a minimum of 10 for supervised fine-tuning only, and its RFT guide's examples have 3;
- the last message is from the user, not the developer: Azure's how-to (docs/hosted-api.md §3.1);
  OpenAI states none. (A line ending with an assistant or tool turn is an error everywhere: it
  holds the answer and leaves the model nothing to answer; that is the kit's choice.)
- no image parts for o4-mini: the model Azure's RFT runs (issue 16); an error when the profile
  names a platform and the model is o4-mini, a warning when the model is not known.

Each problem is a Finding at its line and field; nothing is dropped or rewritten. Schemas are
checked with ``jsonschema`` (the metaschema of the schema's own draft) rather than by hand.
No input crashes the check: files are read by ``rftkit.data.jsonl`` (bounded, see there), records
given in memory are held to the same limits, and a grader template left open (``{{item.x``, which
would otherwise reach the grader as literal text) is an error on the grader.

This module runs the checks and orders their findings; each concept lives in its own module:
:mod:`~rftkit.data.line_checks` (one line), :mod:`~rftkit.data.file_checks` (the file as a whole),
:mod:`~rftkit.data.grader_reads` (what the grader reads, and its own problems),
:mod:`~rftkit.data.profile` (whose rules are errors) and :mod:`~rftkit.data.findings` (the report).

Example::

    report = validate_file("train.jsonl", grader="grader.json", tool_names=toolbox.names)
    report.to_frame()          # one row per finding
    report.raise_for_errors()  # or stop here, listing them all
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from rftkit.data.file_checks import LINE_LIMITS, check_duplicates, check_leakage, check_size
from rftkit.data.findings import Finding, Severity, ValidationReport
from rftkit.data.grader_reads import Grader, PythonRead, grader_findings, python_grader_reads
from rftkit.data.jsonl import Line, parse_line, read_lines
from rftkit.data.line_checks import LineChecker
from rftkit.data.profile import Profile

__all__ = ["Profile", "validate_file", "validate_records"]


def validate_file(
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    grader: Grader | None = None,
    tool_names: Iterable[str] | None = None,
    other_split: str | os.PathLike[str] | None = None,
    profile: Profile = Profile(),
    shared_answers: Iterable[str] = (),
) -> ValidationReport:
    """Every finding for the JSONL file at ``path``.

    ``split`` picks the line limit (``train`` or ``validation``); ``grader`` (a config dict or a
    JSON file) adds the template check; ``tool_names`` (the tool service's) adds the tool-name
    check; ``other_split`` (the other split's file) adds the train/validation leakage check, in
    which ``shared_answers`` (e.g. a CLI flag several tasks answer with) link no two tasks;
    ``profile`` makes one platform's own rules errors (see the module docstring).
    """
    lines, findings = read_lines(path)
    other = None
    if other_split is not None:
        other_lines, _ = read_lines(other_split)
        other = (str(other_split), other_lines)
    findings += _check_lines(str(path), lines, split, grader, tool_names, profile)
    if other is not None:
        findings += check_leakage(str(path), lines, *other, shared_answers)
    return ValidationReport(str(path), len(lines), _in_file_order(str(path), findings))


def validate_records(
    records: Iterable[Mapping[str, Any]],
    *,
    name: str = "<records>",
    split: str = "train",
    grader: Grader | None = None,
    tool_names: Iterable[str] | None = None,
    profile: Profile = Profile(),
) -> ValidationReport:
    """The same checks on lines already in memory; line ``n`` is the ``n``-th record.

    Each record is checked as the JSON line ``write_jsonl`` would write, parsed like a file's
    line; one that cannot be written as JSON at all is an error at its line.
    """
    lines: list[Line] = []
    findings: list[Finding] = []
    for number, record in enumerate(records, start=1):
        try:
            text = json.dumps(record, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            reason = "it nests too deep" if isinstance(exc, RecursionError) else str(exc)
            findings.append(
                Finding(name, number, "<line>", Severity.ERROR, "not_json",
                        f"the record cannot be written as JSON: {reason}",
                        "give plain JSON values: dicts, lists, strings, numbers, bools, None")
            )  # fmt: skip
            lines.append(Line(number, None))
            continue
        parsed, problems = parse_line(text, name, number)
        findings += problems
        lines.append(Line(number, parsed))
    findings += _check_lines(name, lines, split, grader, tool_names, profile)
    return ValidationReport(name, len(lines), _in_file_order(name, findings))


def _in_file_order(name: str, findings: list[Finding]) -> list[Finding]:
    """The grader's findings first, then this file's: file-wide, then by line (stable, so each
    line keeps its checks' order)."""
    return sorted(findings, key=lambda f: (f.file == name, -1 if f.line is None else f.line))


def _check_lines(
    name: str,
    lines: list[Line],
    split: str,
    grader: Grader | None,
    tool_names: Iterable[str] | None,
    profile: Profile,
) -> list[Finding]:
    if split not in LINE_LIMITS:
        raise ValueError(f"split must be one of {', '.join(LINE_LIMITS)}, not {split!r}")
    findings: list[Finding] = []
    grader_vars: list[tuple[str, str]] = []
    python_reads: list[PythonRead] = []
    if grader is not None:
        grader_vars, grader_problems = grader_findings(grader)
        findings += grader_problems
        if not any(f.code == "grader_unreadable" for f in grader_problems):
            python_reads, source_problems = python_grader_reads(grader)
            findings += source_problems
    served = sorted(set(tool_names)) if tool_names is not None else None
    for line in lines:
        if line.record is not None:
            checker = LineChecker(name, line.number, profile)
            findings += checker.check(line.record, grader_vars, served, python_reads)
    findings += check_size(name, len(lines), split, profile)
    findings += check_duplicates(name, lines)
    return findings
