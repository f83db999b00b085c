"""Red-team probes for any task: chosen by the answer's kind (dates, labels, numbers) and by the
tool outputs, with a project's own probe added as one function."""

from __future__ import annotations

import json

from rftkit.evaluation.redteam import (
    TASK_CONTROLS,
    TASK_PROBES,
    Case,
    answer_with,
    probe,
    run_redteam,
)
from rftkit.protocol import Sample, ToolCall

LOOKUP = ToolCall.model_validate(
    {"id": "c1", "type": "function",
     "function": {"name": "lookup_order", "arguments": '{"order_id": "A1"}'}}
)  # fmt: skip
CONTAINS = {
    "type": "string_check",
    "name": "contains",
    "operation": "ilike",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
}
EXACT = {**CONTAINS, "name": "exact", "operation": "eq"}


def order_case(answer: str, status: str = "shipped") -> Case:
    output = json.dumps({"order_id": "A1", "status": status, "eta": "2026-12-04",
                         "ordered": "2026-11-28"})  # fmt: skip
    return Case(
        question="When will order A1 arrive?",
        answer=answer,
        item={"reference_answer": answer, "min_tool_calls": 1},
        sample=Sample.from_text(answer, [LOOKUP]),
        documents=(output,),
    )


def test_date_answers_get_date_probes_and_number_probes_say_they_did_not_apply():
    report = run_redteam(CONTAINS, [order_case("2026-12-04")], probes=TASK_PROBES,
                         controls=TASK_CONTROLS)  # fmt: skip
    built = {p.name: p.build(order_case("2026-12-04")) for p in TASK_PROBES}
    assert built["all dates listed"].output_text == "2026-12-04, 2026-11-28"
    assert built["tool output pasted"].output_json["eta"] == "2026-12-04"  # JSON fills it
    assert {"wrong scale", "all numbers listed", "every label listed"} <= set(report.not_applied)
    # A grader that checks "contains the reference" pays for both: the holes the issue found.
    assert {"all dates listed", "tool output pasted", "hedged"} <= set(report.flagged)
    assert report.table.loc["control: wrong answer", "mean reward"] == 0.0


def test_label_answers_are_recognised_across_cases_and_listed():
    cases = [order_case("shipped"), order_case("held", "held"), order_case("lost", "lost")]
    report = run_redteam(CONTAINS, cases, probes=TASK_PROBES, controls=TASK_CONTROLS)
    assert "every label listed" in report.flagged
    assert report.table.loc["every label listed", "n"] == 3
    assert "all dates listed" in report.not_applied


def test_wasteful_but_right_is_flagged_when_extra_calls_cost_nothing():
    report = run_redteam(EXACT, [order_case("2026-12-04")], probes=TASK_PROBES,
                         controls=TASK_CONTROLS)  # fmt: skip
    assert "wasteful but right" in report.flagged
    assert "wasteful but right: mean reward 1.000 > 0.9" in report.problems()
    assert report.rows.query("probe == 'wasteful but right'")["reward"].tolist() == [1.0]


def test_a_projects_own_probe_is_one_function():
    @probe
    def two_dates(case: Case) -> Sample | None:
        """the right date and a wrong one"""
        return answer_with(case, f"{case.answer} or {case.wrong()}")

    assert (two_dates.name, two_dates.description) == (
        "two dates",
        "the right date and a wrong one",
    )
    report = run_redteam(CONTAINS, [order_case("2026-12-04")], probes=[two_dates])
    assert report.flagged == ["two dates"]
    assert report.rows["reward"].iloc[0] == 1.0
