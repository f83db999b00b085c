"""The forecast's arithmetic against figures worked out by hand, and forecast next to actual."""

import json

import pytest

from rftkit.jobs.forecast import RolloutProfile, compare, forecast, plan
from rftkit.local.hyperparameters import grpo_config
from rftkit.protocol import FunctionSpanData, GenerationSpanData, Sample, Span, Trace, Usage
from rftkit.task import RFTTask, TaskTool

GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
          "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip
HYPER = {"n_epochs": 2, "batch_size": 8, "compute_multiplier": 1, "eval_interval": 5,
         "eval_samples": 1}  # fmt: skip


def _trace(n, latency):
    tid = f"trace_{n}"
    spans = [
        Span(trace_id=tid, span_id="g", started_at=0.0, ended_at=0.5,
             span_data=GenerationSpanData(usage=Usage(input_tokens=100, output_tokens=10))),
        Span(trace_id=tid, span_id="f", started_at=0.5, ended_at=0.75,
             span_data=FunctionSpanData(name="search", input="{}", output="x")),
    ]  # fmt: skip
    grader = {"reward": 1.0, "metadata": {"execution_time": 0.5},
              "model_grader_token_usage_per_model": {"gpt-4.1": {"total_tokens": 300}}}  # fmt: skip
    return Trace(trace_id=tid, item_id=str(n), policy="p", status="completed", started_at=0.0,
                 ended_at=latency, spans=spans, sample=Sample.from_text("x"), reward=1.0,
                 grader_result=grader)  # fmt: skip


@pytest.fixture
def task(tmp_path):
    line = {"messages": [{"role": "user", "content": "q"}], "answer": "a"}
    (tmp_path / "train.jsonl").write_text((json.dumps(line) + "\n") * 40)
    (tmp_path / "valid.jsonl").write_text((json.dumps(line) + "\n") * 10)
    return RFTTask.in_folder(
        tmp_path,
        name="t", training_file="train.jsonl", validation_file="valid.jsonl", grader=GRADER,
        tools=[TaskTool(name="search", server_url="https://t.example/call")],
        hyperparameters=HYPER,
    )  # fmt: skip


@pytest.fixture
def profile():
    return RolloutProfile.from_traces([_trace(n, s) for n, s in enumerate([2, 2, 2, 10])])


def test_profile_reads_latency_calls_and_grader_figures(profile):
    assert (profile.latency_p50_s, profile.latency_p95_s) == (2.0, pytest.approx(8.8))
    assert profile.calls_by_tool == {"search": 1.0} and profile.tool_latency_s == 0.25
    assert (profile.grader_latency_s, profile.grader_tokens) == (0.5, 300.0)


def test_hosted_forecast_matches_the_hand_computation(task, profile):
    fc = forecast(task, profile, "azure")
    # steps ceil(2*40/8)=10; 8 prompts x 8 rollouts; evals 10//5=2 on 10 lines once each
    assert (fc.plan.steps, fc.plan.rollouts_per_step, fc.plan.evals) == (10, 64, 2)
    assert fc.plan.rollouts == 10 * 64 + 20
    low = (10 * (2 + 0.5 + 30) + 2 * 2) / 3600
    high = (10 * (8.8 + 0.5 + 180) + 2 * 8.8) / 3600
    assert fc.wall_hours == (pytest.approx(low), pytest.approx(high))
    assert fc.cost_usd == (pytest.approx(100 * low), pytest.approx(100 * high))
    assert fc.grader_tokens == 660 * 300
    (endpoint,) = fc.endpoints().to_dict("records")
    assert endpoint["peak simultaneous requests"] == 64 and endpoint["peak over 50 QPS"]
    assert endpoint["mean QPS over a step"] == 32.0
    assert fc.table().loc["cost (USD)", "high"] == round(100 * high)
    assert "not priced here" in fc.text() and "azure-ai-docs" in fc.text()


def test_budget_and_burst_problems(task, profile):
    fc = forecast(task, profile, "azure")
    assert ("error", "forecast cost $9-$53 against a budget of $5") in fc.problems(budget_usd=5)
    assert [s for s, _ in fc.problems(budget_usd=20)] == ["warning", "warning"]
    assert [s for s, _ in fc.problems(budget_usd=100)] == ["warning"]


def test_auto_values_are_assumed_and_said(task, profile):
    shape = plan(task.model_copy(update={"hyperparameters": {}}), "openai")
    assert shape.steps == 40 // 16 + 1 and shape.rollouts_per_step == 16 * 8
    assert any("batch_size is auto: assumed 16" in n for n in shape.notes)


def test_unknown_price_leaves_cost_out_and_says_so(task, profile):
    fc = forecast(task.model_copy(update={"model": "gpt-9"}), profile, "openai")
    assert fc.cost_usd is None and "cost (USD)" not in fc.table().index
    assert any("no training price for gpt-9" in n for n in fc.notes)


def test_local_forecast_uses_the_local_mapping(task, profile):
    config, _ = grpo_config(task, 40)
    fc = forecast(task, profile, "local")
    assert fc.plan.steps == config.steps
    assert fc.plan.rollouts_per_step == config.tasks_per_step * config.group_size
    assert fc.cost_usd == (0.0, 0.0)


class _Done:
    def as_job(self):
        return {"created_at": 1000, "finished_at": 1000 + 1800}

    def events(self):
        return [{"type": "message"}, {"type": "metrics", "data": {"step": 9}}]


def test_forecast_next_to_actual(task, profile):
    table = compare(forecast(task, profile, "azure"), _Done())
    assert table.loc["steps"].tolist() == [10, 10, 9]
    assert table.loc["wall time (hours)", "actual"] == 0.5
    assert table.loc["cost at the table's rate (USD)", "actual"] == 50
