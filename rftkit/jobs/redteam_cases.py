"""Red-team cases built from a task's own data, so preflight can attack the task's grader.

:func:`rftkit.evaluation.redteam.run_redteam` needs honest, correct rollouts to turn into bad
answers. The best source is a baseline: its rollouts that earned the top reward, with their tool
calls and the text the tools returned (the documents the "all numbers" probe dumps). Without one,
each line gives a case whose honest answer is the value of the item field the grader compares
against (``{{item.answer}}``, or a usual answer key such as ``reference_answer``) and which made no
tool calls; the report says which was used.

Between the two, the task's stored probes (``RFTTask.probes``: scenarios of calls that succeed,
the reference solver's calls for some training lines, ``rftkit.rollouts.probes``) give a line its
honest path through the tools when one scenario is that line's own: every argument it sends is
one of the line's values (its ``order_id``, its question as a search query). The scenario is
acted out on the line through the task's tool URLs (real calls, one trace id, as the trainer
makes them) and the line's answer given after them; a rollout whose calls all succeeded becomes
a case with those calls and the tools' outputs, as a baseline's would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rftkit.data import grader_item_variables
from rftkit.data.curate import question_of as solver_key
from rftkit.evaluation.redteam import Case
from rftkit.protocol import JobTool, Sample, Trace
from rftkit.rollouts.engine import lines_by_id, run_rollouts_sync
from rftkit.rollouts.solver import Solution, SolverPolicy
from rftkit.task import ProbeCall

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


def _values(node: Any) -> list[str]:
    """Every scalar in ``node`` (nested dicts and lists), as text."""
    if isinstance(node, Mapping):
        return [v for child in node.values() for v in _values(child)]
    if isinstance(node, list | tuple):
        return [v for child in node for v in _values(child)]
    if isinstance(node, str | int | float) and not isinstance(node, bool):
        return [str(node)]
    return []


def fitting_scenario(
    line: Mapping[str, Any], scenarios: Sequence[Sequence[ProbeCall]]
) -> list[ProbeCall] | None:
    """The first stored scenario that is ``line``'s own: it sends at least one argument, and
    every argument it sends is one of the line's values (None if no scenario is)."""
    own = set(_values(line))
    for scenario in scenarios:
        sent = [v for call in scenario for v in _values(call.arguments)]
        if sent and all(v in own for v in sent):
            return list(scenario)
    return None


def cases_from_probes(
    grader: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    scenarios: Sequence[Sequence[ProbeCall]],
    tools: Sequence[JobTool],
    limit: int = 3,
) -> list[Case]:
    """Up to ``limit`` cases from lines a stored scenario fits, acted out through ``tools``
    (see the module docstring); a rollout with a failed call gives no case."""
    plans: dict[str, tuple[list[ProbeCall], str]] = {}
    items = []
    for line in lines:
        key = answer_field(grader, line)
        scenario = None if key is None else fitting_scenario(line, scenarios)
        if scenario is None or solver_key(dict(line)) in plans:
            continue
        plans[solver_key(dict(line))] = (scenario, str(line[key]))
        items.append(dict(line))
        if len(items) == limit:
            break
    if not items:
        return []

    def solve(line: dict[str, Any]) -> Solution:
        scenario, answer = plans[solver_key(line)]
        return Solution(calls=[(c.name, dict(c.arguments)) for c in scenario], answer=answer)

    def ungraded(*_: Any) -> float:  # the red team grades each case itself: no paid call here
        return 0.0

    longest = max(len(scenario) for scenario, _ in plans.values())
    traces = run_rollouts_sync(
        items, SolverPolicy(items, solve), tools=tools, grader=ungraded,
        max_episode_steps=longest + 1, progress=False,
    )  # fmt: skip
    by_id = lines_by_id(items)
    cases = []
    for trace in traces:
        line = by_id[trace.item_id]
        spans = trace.function_spans
        made = [s for s in spans if 200 <= (s.span_data.status_code or 0) < 300]
        if trace.status != "completed" or trace.sample is None or len(made) != len(spans):
            continue
        documents = tuple(str(s.span_data.output) for s in spans)
        answer = plans[solver_key(line)][1]
        cases.append(Case(question_of(line), answer, dict(line), trace.sample, documents))
    return cases
