"""Whether the answer rests on the figures the rollout looked at: 1 if so, else 0.5.

Self-contained (submitted as a ``python`` grader's source). A stricter ``evidence_lookup``: the
rubric calls a right answer that the trace does not support *partly right* (0.5), and "read or
searched something" is not support when the answer needs figures from several reports. Reads
``item.evidence`` (the reports that hold the figures the answer needs), ``item.task_type``,
``item.reference_value`` (a comparison's winning figure) and ``sample.output_tools``: the calls
and their arguments. A python grader never sees what a tool returned, so support is judged from
what was asked for:

- **every evidence report was looked at**: opened with ``read_file``, or named by a ``search``
  query (the company's words and the quarter, e.g. "garlia-digital 2024-Q1 revenue"). A 50/50
  comparison answered after reading one candidate's report is a guess about the other;
- **a comparison's arithmetic does not contradict the answer**: when the last ``calculator``
  expression holds the winning figure (``reference_value``), no figure beside it is larger. A
  rollout that reads both reports, computes ``401.2 - 536.2`` (the winner's operating income
  against the rival's *revenue*), gets -135.0 and still names the winner is right by luck: its
  own figures said the rival was higher. A sum without the winning figure shows nothing either
  way (``4195.3 - 822.2``, two lines of one report) and is not judged.

What it cannot see: whether a search's hits held the figure (a search naming both candidates and
the quarter counts as looking at both), nor which figure a rollout compared in its head. A task
whose ``item.min_tool_calls`` is 0, or a line without ``evidence``, needs no support. Multiplied
into the reward like ``evidence_lookup``, it halves an unsupported right answer and leaves a
wrong one at 0.
"""

import json
import re

SUPPORTED, UNSUPPORTED = 1.0, 0.5
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")


def calls_of(sample):
    """Each tool call as (name, arguments dict); arguments that are not JSON count as none."""
    calls = []
    for call in sample.get("output_tools") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            arguments = {}
        calls.append((function.get("name"), arguments if isinstance(arguments, dict) else {}))
    return calls


def words(text):
    return set(re.findall(r"[a-z0-9]+", str(text).lower()))


def clean_path(path):
    return str(path).strip().lstrip("./").lower()


def looked_at(report, calls):
    """``reports/<company>/<quarter>.md`` was read, or a search named its company and quarter."""
    parts = clean_path(report).split("/")
    wanted = words(" ".join(parts[-2:]).removesuffix(".md"))
    for name, arguments in calls:
        if name == "read_file" and clean_path(arguments.get("path", "")) == clean_path(report):
            return True
        if name == "search" and wanted <= words(arguments.get("query", "")):
            return True
    return False


def calculation_agrees(calls, winning):
    """No larger figure beside the winning one in the last calculator expression (if any)."""
    expressions = [str(a.get("expression", "")) for n, a in calls if n == "calculator"]
    if not expressions:
        return True
    figures = [float(n) for n in NUMBER.findall(expressions[-1])]
    winning = float(winning)
    return winning not in figures or all(f <= winning for f in figures)


def grade(sample, item):
    evidence = item.get("evidence") or []
    if int(item.get("min_tool_calls", 1)) <= 0 or not evidence:
        return SUPPORTED
    calls = calls_of(sample)
    if not all(looked_at(report, calls) for report in evidence):
        return UNSUPPORTED
    winning = item.get("reference_value")
    comparison = item.get("task_type") == "comparison" and winning is not None
    return UNSUPPORTED if comparison and not calculation_agrees(calls, winning) else SUPPORTED
