"""Preflight on real parts: the data validator, the grader engine, the red team, the endpoint
checker on loopback and the platform's graders/validate on a fake API through the real client."""

import datetime as dt
import json

import openai
import pytest
from fake_openai_api import FakeState, fake_openai_app

from rftkit.baseline import baseline_from_traces
from rftkit.jobs.preflight import preflight
from rftkit.protocol import FunctionSpanData, GenerationSpanData, Sample, Span, Trace, Usage
from rftkit.serving import serve_in_background
from rftkit.task import RFTTask, TaskTool

CANARY = "canary-preflight-9d41aa"
TODAY = dt.date(2026, 12, 1)
EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip


def _lines(n, start=0):
    return [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"What is {i} + 1?"}],
         "answer": str(i + 1)}
        for i in range(start, start + n)
    ]  # fmt: skip


@pytest.fixture
def folder(tmp_path):
    for name, lines in (("train", _lines(12)), ("valid", _lines(10, 100))):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return tmp_path


def _task(folder, **changes):
    fields = {"name": "arith", "training_file": "train.jsonl", "validation_file": "valid.jsonl",
              "grader": EXACT, "model": "o4-mini-2025-04-16"} | changes  # fmt: skip
    return RFTTask.in_folder(folder, **fields)


def _by_check(report):
    return {row["check"]: row for row in report.rows}


@pytest.fixture
def platform():
    state = FakeState()
    with serve_in_background(fake_openai_app(state)) as url:
        yield state, openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)


def test_a_sound_task_passes_with_the_platform_validating_its_grader(folder, platform):
    state, client = platform
    report = preflight(_task(folder), "azure", client=client, today=TODAY)
    rows = _by_check(report)
    assert report.ok, report.text()
    assert rows["grader: platform"]["result"] == "ok"
    assert state.requests[-1]["path"] == "/v1/fine_tuning/alpha/graders/validate"
    assert (
        rows["red team"]["result"] == "ok"
        and "honest answer earns 1.0" in rows["red team"]["detail"]
    )
    assert rows["model"]["result"] == "ok" and "generally available" in rows["model"]["detail"]
    assert rows["forecast"]["result"] == "skipped"
    assert list(report.table().columns) == ["check", "result", "detail"]
    assert report.text().endswith("READY TO LAUNCH")


def test_each_kind_of_problem_is_an_error_row(folder, platform):
    state, client = platform
    state.fail["validate_grader"] = (400, {"error": {"message": f"Invalid grader {CANARY}"}})
    pays_all = {**EXACT, "operation": "like", "reference": "{{item.missing}}"}
    task = _task(
        folder,
        grader=pays_all,
        tools=[TaskTool(name="calculator", server_url="http://127.0.0.1:9/call",
                        headers={"Authorization": "Bearer ${TOOL_TOKEN}"})],
    )  # fmt: skip
    report = preflight(task, "openai", client=client, env={"TOOL_TOKEN": CANARY},
                       today=dt.date(2027, 1, 6), readiness_rollouts=0)  # fmt: skip
    errors = {row["check"] for row in report.errors}
    assert {"data: train", "grader: platform", "tools", "availability", "model"} <= errors, (
        report.text()
    )
    assert "item.missing" in _by_check(report)["data: train"]["detail"]
    assert "Azure" in _by_check(report)["availability"]["detail"]
    assert "no Agent RFT" in _by_check(report)["model"]["detail"]
    tools = [row for row in report.rows if row["check"] == "tools"]
    assert any(row["result"] == "error" and "no response" in row["detail"] for row in tools)
    assert CANARY not in report.text() and CANARY not in report.table().to_string()
    assert not report.ok and "NOT READY" in report.text()


def test_a_grader_that_pays_for_bad_answers_fails_the_red_team(folder):
    pays_all = {**EXACT, "operation": "like", "reference": ""}
    report = preflight(_task(folder, grader=pays_all), "local", today=TODAY)
    row = _by_check(report)["red team"]
    assert row["result"] == "error" and "empty: mean reward 1.000" in row["detail"]


def test_a_missing_secret_is_named_and_stops_the_checks_that_need_it(folder):
    task = _task(folder, tools=[TaskTool(name="t", server_url="https://t.example/call",
                                         headers={"Authorization": "Bearer ${NOPE}"})])  # fmt: skip
    report = preflight(task, "local", env={}, today=TODAY)
    rows = _by_check(report)
    assert rows["secrets"]["result"] == "error" and "NOPE" in rows["secrets"]["detail"]
    assert "red team" not in rows and "tools" not in rows


def _trace(line, reward, latency):
    tid = f"trace_{line['id']}"
    spans = [
        Span(trace_id=tid, span_id="g", started_at=0, ended_at=1,
             span_data=GenerationSpanData(usage=Usage(input_tokens=50, output_tokens=5))),
        Span(trace_id=tid, span_id="f", started_at=1, ended_at=1.2,
             span_data=FunctionSpanData(name="calculator", input="{}", output="The sum is 99")),
    ]  # fmt: skip
    return Trace(trace_id=tid, item_id=line["id"], policy="p", status="completed",
                 started_at=0, ended_at=latency, spans=spans,
                 sample=Sample.from_text(line["answer"] if reward else "99"),
                 reward=reward)  # fmt: skip


def test_a_baseline_gives_red_team_cases_and_a_forecast_checked_against_the_budget(folder):
    lines = _lines(12)
    traces = [_trace(line, float(i % 2), 5.0) for i, line in enumerate(lines)]
    report = preflight(_task(folder), "azure", baseline=baseline_from_traces(traces),
                       budget_usd=0.5, today=TODAY)  # fmt: skip
    rows = _by_check(report)
    assert "from the baseline's best rollouts" in rows["red team"]["detail"]
    assert rows["forecast"]["result"] == "error" and "budget of $0" in rows["forecast"]["detail"]
    assert report.forecast is not None and report.forecast.plan.steps >= 1


def test_openai_before_the_last_date_is_a_warning_with_the_days_left(folder):
    report = preflight(_task(folder), "openai", today=TODAY)
    row = _by_check(report)["availability"]
    assert row["result"] == "warning" and "2027-01-06 (36 days)" in row["detail"]
    model = _by_check(report)["model"]
    assert model["result"] == "warning" and "reported shut down" in model["detail"]


def test_the_course_service_is_called_with_the_task_headers_and_lines(tiny_course_task):
    report = preflight(tiny_course_task.task, "local", env=tiny_course_task.env,
                       readiness_rollouts=4, today=TODAY)  # fmt: skip
    tools = [row for row in report.rows if row["check"] == "tools"]
    assert tools and not [row for row in tools if row["result"] == "error"], report.text()
    token = tiny_course_task.env["RFTKIT_TOOL_TOKEN"]
    assert token not in report.text()
    without = preflight(tiny_course_task.task, "local", env={"RFTKIT_TOOL_TOKEN": "wrong-token"},
                        readiness_rollouts=0, today=TODAY)  # fmt: skip
    refused = [r for r in without.rows if r["check"] == "tools" and r["result"] == "error"]
    assert refused and "401" in " ".join(r["detail"] for r in refused)


def test_the_task_platform_profile_and_the_bleu_trap_reach_preflight(tmp_path):
    for name, lines in (("train", _lines(3)), ("valid", _lines(3, 100))):  # 3 lines: Azure wants 10
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    bleu = {"type": "text_similarity", "name": "bleu", "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}", "evaluation_metric": "bleu"}  # fmt: skip
    for platform, data_result in ((None, "warning"), ("azure", "error")):
        task = _task(tmp_path, grader=bleu, platform=platform)
        report = preflight(task, "local", today=TODAY)
        assert _by_check(report)["data: train"]["result"] == data_result, report.text()
        grader_rows = [r for r in report.rows if r["check"] == "grader: local"]
        assert any(r["result"] == "warning" and "bleu" in r["detail"] for r in grader_rows)
