"""Choosing a checkpoint (rftkit.course.checkpoints): standard errors over lines, paired gains,
the latency split, the float16 copy of a checkpoint and the ship checklist."""

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from rftkit.course.checkpoints import (
    latency_split,
    paired_change,
    save_half_precision,
    selection_table,
    ship_decision,
)
from rftkit.course.redteam import cases_from_reference
from rftkit.course.rewards import flat_cost_grader
from rftkit.evaluation.agreement import GateDecision
from rftkit.evaluation.redteam import PROBES, RedTeamReport, run_redteam
from rftkit.local.checkpoint import BASE_CHECKPOINT, load_model
from rftkit.rollouts import load_traces

DEMO_RUN = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "demo_run"


def _rows(rewards: dict[str, list[list[float]]]) -> pd.DataFrame:
    """checkpoint -> per line, its rollouts' rewards (correct = reward == 1)."""
    return pd.DataFrame(
        [
            {"checkpoint": name, "item_id": f"t{line}", "repeat": r, "reward": value,
             "correct": value == 1.0, "tool_calls": 2, "score/latency": value / 2}
            for name, lines in rewards.items()
            for line, values in enumerate(lines)
            for r, value in enumerate(values)
        ]
    )  # fmt: skip


def test_standard_errors_are_over_lines_and_gains_are_paired():
    rows = _rows(
        {
            "base": [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
            "step-8": [[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]],
        }
    )
    table = selection_table(rows)
    base_lines = pd.Series([0.0, 1.0, 0.5])  # each line's repeats averaged first
    assert table.loc["base", "reward"] == pytest.approx(base_lines.mean())
    assert table.loc["base", "reward SE"] == pytest.approx(base_lines.std() / math.sqrt(3))
    gains = pd.Series([0.5, 0.0, 0.5])
    assert table.loc["step-8", "gain"] == pytest.approx(gains.mean())
    assert table.loc["step-8", "gain SE"] == pytest.approx(gains.std() / math.sqrt(3))
    assert table.loc["step-8", "latency"] == pytest.approx(table.loc["step-8", "reward"] / 2)
    assert table.loc["base", "accuracy"] == pytest.approx(0.5)
    assert list(table["lines"]) == [3, 3]


def test_paired_change_pairs_items_and_ignores_discarded_rollouts():
    before = pd.DataFrame({"item_id": ["a", "a", "b", "c"], "reward": [0.0, 1.0, 0.0, None]})
    after = pd.DataFrame({"item_id": ["a", "b", "b", "c"], "reward": [1.0, 1.0, 0.0, 1.0]})
    change = paired_change(before, after)
    assert change["items"] == 2  # c has no scored rollout before
    assert change["change"] == pytest.approx(((1.0 - 0.5) + (0.5 - 0.0)) / 2)
    assert change["se"] == pytest.approx(0.0)


def test_the_latency_split_adds_up_to_the_rollout():
    traces = load_traces(DEMO_RUN / "traces_before.jsonl")[:10]
    split = latency_split(traces)
    total = split["model_s"] + split["tool_s"] + split["other_s"]
    assert (split["model_s"] > 0).all() and (split["tool_s"] >= 0).all()
    assert total.to_numpy() == pytest.approx(split["rollout_s"].to_numpy(), abs=1e-6)
    summed = [sum(s.duration for s in t.spans if s.span_data.type == "function") for t in traces]
    assert any(s > c for s, c in zip(summed, split["tool_s"], strict=True))  # parallel calls


def test_overlapping_calls_count_once():
    from rftkit.course.checkpoints import _covered

    assert _covered([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]) == pytest.approx(4.0)


def test_a_half_precision_checkpoint_is_smaller_and_loads(tmp_path):
    copy = save_half_precision(BASE_CHECKPOINT, tmp_path / "base16.pt")
    assert copy.stat().st_size < 0.6 * BASE_CHECKPOINT.stat().st_size
    full, _ = load_model()
    half, _ = load_model(copy)
    for (name, a), (_, b) in zip(full.state_dict().items(), half.state_dict().items(), strict=True):
        assert b.dtype == a.dtype, name  # loaded back as float32
        assert torch.allclose(a, b, atol=1e-2, rtol=1e-2), name


@pytest.fixture(scope="module")
def flat_cost_redteam():
    return run_redteam(flat_cost_grader(), cases_from_reference())


def _gate(passed: bool) -> GateDecision:
    return GateDecision(passed, "made up", None, 0.6, 72)


def test_the_ship_checklist_needs_every_check(flat_cost_redteam):
    up = {"change": 0.10, "se": 0.03}
    flat = {"change": 0.0, "se": 0.03}
    clean = RedTeamReport(  # a grader no probe beats (made up: every real one pays a guess)
        rows=pd.DataFrame(),
        table=pd.DataFrame(
            {"kind": ["probe", "control"], "mean reward": [0.0, 1.0], "flagged": [False, False]},
            index=["lucky guess", "control: honest answer"],
        ),
        threshold=0.2,
    )
    assert clean.ok and not flat_cost_redteam.ok
    assert ship_decision(up, flat, clean, _gate(True)).ship
    refused = {
        "reward in noise": ship_decision({"change": 0.05, "se": 0.03}, flat, clean, _gate(True)),
        "accuracy down": ship_decision(up, {"change": -0.1, "se": 0.03}, clean, _gate(True)),
        "red team": ship_decision(up, flat, flat_cost_redteam, _gate(True)),
        "gate": ship_decision(up, flat, clean, _gate(False)),
    }
    for why, decision in refused.items():
        assert not decision.ship, why
        assert "DO NOT SHIP" in str(decision), why
    assert "lucky guess" in str(refused["red team"])


def test_the_demo_run_is_graded_by_the_supported_reward_and_its_examples_are_supported():
    """The demo trains and evaluates on ``latency_grader_supported`` (03's recommendation), so a
    right comparison named after computing with the wrong figure (the old run's 401.2 - 536.2
    'tool switch') cannot earn more than half; 06's examples, picked with a floor of 0.5, are
    rollouts whose answer the figures read support."""
    from rftkit.analysis.patterns import pattern_examples, rollout_patterns
    from rftkit.course.dataset import course_dataset
    from rftkit.course.rewards import latency_grader_supported
    from rftkit.graders import run_grader

    items = {
        f"w{seed}-{line['task_id']}": line
        for seed in (100, 101)
        for line in course_dataset(seed=seed, style="compact", n=20)
    }
    before = load_traces(DEMO_RUN / "traces_before.jsonl")
    after = load_traces(DEMO_RUN / "traces_after.jsonl")
    grader = latency_grader_supported()
    graded = {t.trace_id: run_grader(grader, t.sample, items[t.item_id]) for t in after}
    assert all(graded[t.trace_id].reward == pytest.approx(t.reward) for t in after if t.reward)
    patterns_before, patterns_after = (rollout_patterns(t, items) for t in (before, after))
    examples = pattern_examples(patterns_before, patterns_after, floor=0.5)
    picked = [trace for trace in examples["trace_after"] if isinstance(trace, str)]
    assert picked
    for trace in picked:
        assert graded[trace].reward > 0.5 and graded[trace].sub_rewards["support"] == 1.0


def test_the_heldout_evaluation_interleaves_and_repeats_exactly():
    from rftkit.course.checkpoints import evaluate_heldout

    models = {"base": load_model(), "again": load_model()}
    first = evaluate_heldout(models, seeds=(100,), n=2, k=1)
    second = evaluate_heldout({"base": models["base"]}, seeds=(100,), n=2, k=1)
    assert [t.item_id for t in first["base"]] == ["w100-t0001", "w100-t0002"]
    # the two policies took turns: the second model's rollout of an item starts after the first's
    for base, again in zip(first["base"], first["again"], strict=True):
        assert base.ended_at <= again.started_at
    # seeded and one at a time: a re-run gives the same rollouts, whoever ran beside them
    texts = [[t.sample.output_text for t in run] for run in (first["base"], second["base"])]
    assert texts[0] == texts[1] == [t.sample.output_text for t in first["again"]]
    assert [t.reward for t in first["base"]] == [t.reward for t in second["base"]]


def test_the_course_probes_write_notebook_03s_lucky_guess_decision_in():
    """03 keeps the rubric's 0.4 for a right answer with no tools; the course's red team flags a
    lucky guess only above that, and still flags a reward that pays a guess more."""
    from rftkit.course.redteam import LUCKY_GUESS_LIMIT, course_probes
    from rftkit.course.rewards import latency_grader_supported

    cases = cases_from_reference()
    supported = latency_grader_supported()
    default, course = (run_redteam(supported, cases, probes=p) for p in (PROBES, course_probes()))
    assert default.flagged == ["lucky guess"] and course.ok  # it pays a guess 0.3: within 0.4
    assert default.table.loc["lucky guess", "mean reward"] == pytest.approx(0.3)
    assert LUCKY_GUESS_LIMIT == 0.4
    flat_cost = run_redteam(flat_cost_grader(), cases, probes=course_probes())
    assert "lucky guess" in flat_cost.flagged  # a guess paid 1.0 is over any limit
