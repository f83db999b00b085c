"""Red-team cases built from a task's own data, so preflight can attack the task's grader.

:func:`rftkit.evaluation.redteam.run_redteam` needs honest, correct rollouts to turn into bad
answers. The best source is a baseline: its rollouts that earned the top reward, with their tool
calls and the text the tools returned (the documents the "all numbers" probe dumps). Without one,
each line gives a case whose honest answer is the value of the item field the grader compares
against (``{{item.answer}}``, or a usual answer key such as ``reference_answer``) and which made no
tool calls; the report says which was used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rftkit.data import grader_item_variables
from rftkit.evaluation.redteam import Case
from rftkit.protocol import Sample, Trace
from rftkit.rollouts.engine import lines_by_id

ANSWER_KEYS = ("reference_answer", "answer", "ground_truth", "expected", "label")
"""Where lines usually keep the answer, for graders that read it in code, not in a template."""


def answer_field(grader: Mapping[str, Any], line: Mapping[str, Any]) -> str | None:
    """The item field holding a plain answer in ``line``: one the grader's templates read, else
    a usual answer key (None if none)."""
    read = [
        v.removeprefix("item.").split(".")[0].split("[")[0]
        for _, v in grader_item_variables(grader)
    ]
    for key in (*read, *ANSWER_KEYS):
        if isinstance(line.get(key), str | int | float) and not isinstance(line.get(key), bool):
            return key
    return None


def question_of(line: Mapping[str, Any]) -> str:
    """The text of the line's last user message."""
    users = [m for m in line.get("messages") or [] if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def cases_from_lines(
    grader: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], limit: int = 3
) -> list[Case]:
    """Up to ``limit`` cases whose honest answer is the line's answer field, without tool calls."""
    cases = []
    for line in lines:
        key = answer_field(grader, line)
        if key is None:
            continue
        answer = str(line[key])
        cases.append(Case(question_of(line), answer, dict(line), Sample.from_text(answer)))
        if len(cases) == limit:
            break
    return cases


def cases_from_traces(
    traces: Sequence[Trace],
    lines: Sequence[Mapping[str, Any]],
    grader: Mapping[str, Any],
    limit: int = 3,
) -> list[Case]:
    """Up to ``limit`` cases from a baseline's best-rewarded rollouts of the task's lines."""
    by_id = lines_by_id(lines)
    scored = [t for t in traces if t.reward is not None and t.sample is not None]
    if not scored:
        return []
    top = max(t.reward for t in scored)
    cases = []
    for trace in scored:
        line = by_id.get(str(trace.item_id))
        key = None if line is None else answer_field(grader, line)
        if trace.reward != top or key is None:
            continue
        documents = tuple(str(s.span_data.output) for s in trace.function_spans)
        cases.append(Case(question_of(line), str(line[key]), dict(line), trace.sample, documents))
        if len(cases) == limit:
            break
    return cases
