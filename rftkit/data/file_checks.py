"""The checks of a dataset file as a whole: its size, its duplicates, and leakage between splits.

A training file holds at most 50,000 lines, a validation file at most 1,000 (OpenAI's RFT guide);
fewer than 10 is an error under Azure's profile (Microsoft's Agent RFT sample) and a warning
otherwise. Duplicate lines and repeated questions are warnings; a task shared by both splits
(:func:`rftkit.data.curate.find_leakage`) is an error at the line that repeats it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from rftkit.data.curate import find_leakage, question_of
from rftkit.data.findings import Finding, Severity
from rftkit.data.jsonl import Line
from rftkit.data.profile import Profile

LINE_LIMITS = {"train": 50_000, "validation": 1_000}
MIN_LINES = 10


def check_size(name: str, count: int, split: str, profile: Profile) -> list[Finding]:
    """Too many lines for the split (an error), or fewer than Azure takes (by ``profile``)."""
    limit = LINE_LIMITS[split]
    if count > limit:
        return [
            Finding(
                name,
                None,
                "<file>",
                Severity.ERROR,
                "too_many_lines",
                f"{count} lines; a {split} file may hold at most {limit:,}",
                "sample the file down, or use it as the other split",
            )
        ]
    if count < MIN_LINES:
        return [
            Finding(
                name,
                None,
                "<file>",
                profile.severity("azure"),
                "too_few_lines",
                f"{count} lines; Azure needs at least {MIN_LINES} per file (Microsoft's Agent RFT "
                "sample); OpenAI states no minimum for RFT",
                "add tasks; several dozen to a few hundred good ones is the usual start",
            )
        ]
    return []


def check_duplicates(name: str, lines: list[Line]) -> list[Finding]:
    """Exact duplicate lines, and lines asking the same question as an earlier one."""
    findings = []
    first_line: dict[str, int] = {}
    first_question: dict[str, int] = {}
    for line in lines:
        if line.record is None:
            continue
        key = json.dumps(line.record, sort_keys=True)
        question = question_of(line.record)
        if key in first_line:
            findings.append(
                Finding(
                    name,
                    line.number,
                    "<line>",
                    Severity.WARNING,
                    "duplicate_line",
                    f"identical to line {first_line[key]}",
                    "remove one copy; duplicates weigh a task twice",
                )
            )
        elif question and question in first_question:
            findings.append(
                Finding(
                    name,
                    line.number,
                    "messages",
                    Severity.WARNING,
                    "duplicate_question",
                    f"asks the same question as line {first_question[question]}",
                    "keep one line per question, or make the questions differ",
                )
            )
        first_line.setdefault(key, line.number)
        if question:
            first_question.setdefault(question, line.number)
    return findings


def check_leakage(
    name: str,
    lines: list[Line],
    other_name: str,
    other_lines: list[Line],
    shared_answers: Iterable[str] = (),
) -> list[Finding]:
    """Each line of this file that repeats a task of the other split's (its strongest match);
    ``shared_answers``: answers tasks may legitimately share (see ``find_leakage``)."""
    here = [line for line in lines if line.record is not None]
    there = [line for line in other_lines if line.record is not None]
    leaks = find_leakage(
        [ln.record for ln in there], [ln.record for ln in here], shared_answers=shared_answers
    )
    leaks = leaks.drop_duplicates("valid_index")  # one finding per line: its strongest match
    return [
        Finding(
            name,
            here[row.valid_index].number,
            "messages",
            Severity.ERROR,
            "leakage",
            f"{row.reason} line {there[row.train_index].number} of {other_name}"
            f" (similarity {row.score:.0f})",
            "move or drop one of the two lines so the splits share no task",
        )
        for row in leaks.itertuples()
    ]
