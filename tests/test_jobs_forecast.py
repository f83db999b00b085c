"""The forecast's arithmetic against figures worked out by hand, and forecast next to actual."""

import json

import pandas as pd
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


def test_the_local_forecast_counts_the_validations_the_trainer_runs(task, profile):
    """GRPOTrainer validates the starting model (step 0), every eval_interval steps and at the
    last step: 10 steps at interval 4 validate at 0, 4, 8 and 10."""
    task = task.model_copy(update={"hyperparameters": {**task.hyperparameters, "eval_interval": 4}})
    config, _ = grpo_config(task, 40)
    assert (config.steps, config.eval_interval, config.validate_base) == (10, 4, True)
    validated = [0] + [s for s in range(1, 11) if s % 4 == 0 or s == 10]
    fc = forecast(task, profile, "local")
    assert fc.plan.evals == len(validated) == 4
    assert fc.plan.eval_rollouts == 4 * 10 * config.valid_repeats


def _scripted(n, latency):
    """A scripted policy's rollout: tool calls, no model, so no tokens."""
    trace = _trace(n, latency)
    return trace.model_copy(update={"spans": [s for s in trace.spans if s.span_id == "f"]})


def test_a_scripted_baselines_latency_is_floored_and_the_note_says_so(task):
    scripted = RolloutProfile.from_traces([_scripted(n, 0.01) for n in range(4)])
    assert scripted.scripted and scripted.latency_p50_s == 0.01
    fc = forecast(task, scripted, "azure")
    assert fc["rollout_s"] == (10.0, 60.0) and fc["rollout_s_source"] == "floor"
    low = (10 * (10 + 0.5 + 30) + 2 * 10) / 3600
    assert fc.wall_hours[0] == pytest.approx(low)
    assert any("an assumed floor: the baseline is scripted" in n for n in fc.notes)
    assert fc.table().loc["seconds per rollout", "low"] == 10.0
    (endpoint,) = fc.endpoints().to_dict("records")
    assert endpoint["mean QPS over a step"] == round(64 / 10, 1)


def test_a_measured_rollout_time_replaces_the_baselines_and_is_named(task, profile):
    fc = forecast(task, profile, "azure", rollout_s=(4.0, 12.0))
    assert fc["rollout_s"] == (4.0, 12.0)
    assert fc.wall_hours[1] == pytest.approx((10 * (12 + 0.5 + 180) + 2 * 12) / 3600)
    assert "seconds per rollout: 4-12, measured (given)" in fc.text()
    from_baseline = forecast(task, profile, "azure")
    assert from_baseline.figures["rollout_s_source"] == "baseline"
    assert "seconds per rollout" not in from_baseline.text()  # the table as before: latency
    with pytest.raises(ValueError, match="0 < p50 <= p95"):
        forecast(task, profile, "azure", rollout_s=(5.0, 1.0))


def test_the_local_forecast_counts_triage_before_the_first_step(task):
    config, _ = grpo_config(task, 40)
    scripted = RolloutProfile.from_traces([_scripted(n, 0.0) for n in range(4)])
    fc = forecast(task, scripted, "local")
    triage = 40 * config.triage_repeats
    assert fc.plan.triage_rollouts == triage
    assert fc.table().loc["triage rollouts", "low"] == triage
    low = (triage * (0.5 + 0.5) + fc.plan.steps * (0.5 + 0.5) + fc.plan.evals * 0.5) / 3600
    assert fc.wall_hours[0] == pytest.approx(low)
    assert any(n.startswith("triage: ") for n in fc.notes)


class _Job:
    """A finished job as ``compare`` reads it: its record and its events."""

    def __init__(self, events, created=1000, finished=1000 + 3 * 3600):
        self.record = {"created_at": created, "finished_at": finished}
        self._events = events

    def as_job(self):
        return self.record

    def events(self):
        return self._events


def _at(t, message, **data):
    kind = "metrics" if data else "message"
    return {"created_at": t, "type": kind, "message": message, "data": data}


def test_actual_cost_counts_the_steps_own_time_when_events_carry_it(task, profile):
    """3 h from create to finish, but the 9 steps ran 200 s each: 0.5 h billed, $50."""
    steps = [_at(2000 + 300 * n, f"Step {n}", step=n,
                 timing={"step": {"full_iteration": 200.0}}) for n in range(1, 10)]  # fmt: skip
    table = compare(forecast(task, profile, "azure"), _Job(steps))
    assert table.loc["steps"].tolist() == [10, 10, 9]
    assert table.loc["billed training time (hours)", "actual"] == 0.5
    assert table.loc["wall time, queueing and pauses included (hours)", "actual"] == 3.0
    assert table.loc["cost at the table's rate (USD)", "actual"] == 50
    assert "timing.step.full_iteration summed" in table.attrs["billed_time"]


def test_without_step_timing_queueing_and_pauses_are_left_out(task, profile):
    """Queued for an hour, trained 1 h, paused 30 min, trained 30 min more: 1.5 h billed."""
    events = [
        _at(1000, "Created fine-tuning job"),
        _at(1000 + 3600, "Fine-tuning job started"),
        _at(1000 + 5400, "Step 1", step=1),
        _at(1000 + 7200, "Job paused"),
        _at(1000 + 9000, "Job resumed"),
        _at(1000 + 10800, "Step 2", step=2),
    ]
    table = compare(forecast(task, profile, "azure"), _Job(events, finished=1000 + 12000))
    assert table.loc["billed training time (hours)", "actual"] == 1.5
    assert table.loc["cost at the table's rate (USD)", "actual"] == 150
    assert "less 0.50 h paused" in table.attrs["billed_time"]
    fresh = compare(forecast(task, profile, "azure"), _Job([_at(1000, "Created")]), now=5000)
    assert pd.isna(fresh.loc["billed training time (hours)", "actual"])
    assert "no timed metrics events" in fresh.attrs["billed_time"]
