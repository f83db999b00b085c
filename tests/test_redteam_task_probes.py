"""Red-team probes for any task: chosen by the answer's kind (dates, labels, numbers) and by the
tool outputs, with a project's own probe added as one function; preflight's cases from a task's
stored probes, acted out through its tools on loopback."""

from __future__ import annotations

import json

import pytest

from rftkit.evaluation.redteam import (
    TASK_CONTROLS,
    TASK_PROBES,
    Case,
    answer_with,
    probe,
    run_redteam,
)
from rftkit.jobs.preflight import preflight
from rftkit.jobs.redteam_cases import cases_from_probes
from rftkit.protocol import Sample, ToolCall
from rftkit.task import RFTTask, TaskTool

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


# -- preflight's cases from the task's stored probes ------------------------------------------


def _spec(name: str) -> dict:
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    return {"type": "function", "function": {"name": name, "description": name,
                                             "parameters": schema}}  # fmt: skip


def _order_lines(n: int, start: int = 0) -> list[dict]:
    return [
        {"id": f"o{i}", "messages": [{"role": "user", "content": f"Status of order A{i}?"}],
         "tools": [_spec("echo"), _spec("refuse")], "order_id": f"A{i}",
         "reference_answer": "shipped"}
        for i in range(start, start + n)
    ]  # fmt: skip


@pytest.fixture
def echo_service():
    from rollout_fakes import EndpointLog, fake_tool_app

    from rftkit.serving import serve_in_background

    log = EndpointLog()
    with serve_in_background(fake_tool_app(log)) as url:
        yield url, log


def _echo_task(folder, url: str, probes: list) -> RFTTask:
    from rollout_fakes import TOKEN

    for name, lines in (("train.jsonl", _order_lines(12)), ("valid.jsonl", _order_lines(10, 50))):
        (folder / name).write_text("".join(json.dumps(x) + "\n" for x in lines))
    tools = [TaskTool(name=name, server_url=f"{url}/call",
                      headers={"Authorization": "Bearer ${ECHO_TOKEN}"})
             for name in ("echo", "refuse")]  # fmt: skip
    return RFTTask.in_folder(
        folder, name="orders", training_file="train.jsonl", validation_file="valid.jsonl",
        grader=EXACT, tools=tools, model="o4-mini-2025-04-16", probes=probes,
    ), {"ECHO_TOKEN": TOKEN}  # fmt: skip


def _red_team_row(task: RFTTask, env: dict) -> dict:
    report = preflight(task, "local", env=env, readiness_rollouts=0)
    return next(row for row in report.rows if row["check"] == "red team")


def test_a_line_a_stored_probe_fits_is_acted_out_through_the_tools(tmp_path, echo_service):
    """Before: cases from the lines' answers alone, no tool call, the row warned that the honest
    path was never tried. Now the stored scenario that is line o3's own (it looks up A3) is made
    at the tool's URL, and the row is ok with the honest answer after it; the lines no probe
    fits are left out, as their answers without the calls are no honest path."""
    url, log = echo_service
    task, env = _echo_task(tmp_path, url, [[{"name": "echo", "arguments": {"text": "A3"}}]])
    without = _red_team_row(task.model_copy(update={"probes": []}), env)
    assert without["result"] == "warning" and "never tried" in without["detail"]

    before = len(log.calls)  # the tools row of that preflight called the tools too
    cases = cases_from_probes(EXACT, task.items("train"), task.probes, task.job_tools(env))
    assert [c.item["id"] for c in cases] == ["o3"]
    assert [t.function.name for t in cases[0].sample.output_tools] == ["echo"]
    assert cases[0].documents == ("echo: A3",) and cases[0].sample.output_text == "shipped"
    made = log.calls[before:]
    assert [(c.name, c.parsed_arguments()) for c in made] == [("echo", {"text": "A3"})]

    row = _red_team_row(task, env)
    detail = row["detail"]
    assert row["result"] == "ok", row
    assert "1 case(s) from the training lines a stored probe fits (its calls made through" in detail
    assert "honest answer earns 1.0" in detail and "never tried" not in detail
    assert "lucky guess" not in detail  # judged on a baseline's rollouts only


@pytest.mark.parametrize(
    ("scenario", "why"),
    [
        ([{"name": "echo", "arguments": {"text": "Z9"}}], "no line holds Z9"),
        ([{"name": "echo", "arguments": {}}], "it sends no argument of any line"),
        ([{"name": "refuse", "arguments": {"x": "A3"}}], "its call is refused (400)"),
    ],
)
def test_a_stored_probe_that_fits_no_line_still_warns(tmp_path, echo_service, scenario, why):
    url, _ = echo_service
    task, env = _echo_task(tmp_path, url, [scenario])
    assert cases_from_probes(EXACT, task.items("train"), task.probes, task.job_tools(env)) == [], (
        why
    )
    row = _red_team_row(task, env)
    assert row["result"] == "warning" and "the honest path was never tried" in row["detail"], why
