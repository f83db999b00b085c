"""Baseline statistics, triage and the variance plot against values computed by hand."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest

from rftkit.evaluation.baseline import baseline_from_traces, bucket_of, pass_at_k
from rftkit.protocol import (
    FunctionSpanData,
    GenerationSpanData,
    Sample,
    Span,
    Trace,
    Usage,
)

# item -> rewards of its k=4 rollouts; "d" is a discarded rollout, "t" a timed-out one.
CASE = {
    "A": [0, 0, 0, 0],
    "B": [1, 1, 1, 1],
    "C": [1, 0, 1, 0],
    "D": [0.5, 0.5, 0.5, 0.5],
    "E": [1, "d", "t", "d"],
    "F": [0.25, 1, "d", 0.25],
}


def _trace(item_id, repeat, outcome):
    status = {"d": "discarded", "t": "timeout"}.get(outcome, "completed")
    reward = None if isinstance(outcome, str) else float(outcome)
    tid = f"trace_{item_id}{repeat}"
    gen = Span(
        trace_id=tid,
        span_id="s0",
        started_at=0.0,
        ended_at=0.5,
        span_data=GenerationSpanData(
            usage=Usage(input_tokens=100, output_tokens=10, reasoning_tokens=4)
        ),
    )
    call = Span(
        trace_id=tid,
        span_id="s1",
        started_at=0.5,
        ended_at=1.0,
        span_data=FunctionSpanData(name="search", input="{}", output="x"),
    )
    return Trace(
        trace_id=tid,
        item_id=item_id,
        repeat=repeat,
        policy="scripted-test",
        status=status,
        started_at=0.0,
        ended_at=2.0,
        spans=[gen, call],
        sample=Sample.from_text("x"),
        reward=reward,
    )


@pytest.fixture(scope="module")
def baseline():
    traces = [_trace(i, r, o) for i, outcomes in CASE.items() for r, o in enumerate(outcomes)]
    return baseline_from_traces(traces)


def test_per_item_statistics_match_hand_computation(baseline):
    stats = baseline.per_item.set_index("item_id")
    assert baseline.k == 4
    assert stats["scored"].to_dict() == {"A": 4, "B": 4, "C": 4, "D": 4, "E": 1, "F": 3}
    assert stats["mean"].to_dict() == {"A": 0, "B": 1, "C": 0.5, "D": 0.5, "E": 1, "F": 0.5}
    assert stats.loc["C", "std"] == 0.5  # population std of 1,0,1,0
    assert stats.loc["F", "std"] == pytest.approx(math.sqrt(0.125))  # (2*.0625 + .25) / 3
    assert stats["max"].to_dict() == {"A": 0, "B": 1, "C": 1, "D": 0.5, "E": 1, "F": 1}
    assert stats["pass_at_1"].to_dict() == pytest.approx(
        {"A": 0, "B": 1, "C": 0.5, "D": 0, "E": 1, "F": 1 / 3}
    )
    # C: 2 of 4 pass, so pass@4 = 1; F: k is capped at its 3 scored rollouts.
    assert stats["pass_at_k"].to_dict() == {"A": 0, "B": 1, "C": 1, "D": 0, "E": 1, "F": 1}


def test_buckets_match_hand_triage(baseline):
    assert baseline.buckets() == {
        "always_0": ["A"],
        "always_1": ["B"],
        "constant": ["D"],
        "learnable": ["C", "F"],
        "unscored": ["E"],
    }
    assert baseline.rewards_by_item()["F"] == [0.25, 1.0, 0.25]
    assert "E" in baseline.rewards_by_item() and len(baseline.rewards_by_item()["E"]) == 1


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert pass_at_k(10, 0, 5) == 0 and pass_at_k(10, 1, 10) == 1
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k(3, 1, 4)


def test_bucket_of_edges():
    assert bucket_of([0.0]) == "unscored"
    assert bucket_of([0.0, 0.0], low=0.0) == "always_0"
    assert bucket_of([5.0, 5.0], high=5.0) == "always_1"
    assert bucket_of([0.0, 1e-12]) == "always_0"


def test_summary_counts_unscored_rollouts_without_scoring_them(baseline):
    summary = baseline.summary()["value"]
    assert summary["rollouts"] == 24 and summary["scored"] == 20
    assert summary["discarded"] == 3 and summary["timed out"] == 1
    scored = [o for outcomes in CASE.values() for o in outcomes if not isinstance(o, str)]
    assert summary["mean reward"] == round(sum(scored) / len(scored), 3)
    assert summary["items learnable"] == 2 and summary["items unscored"] == 1
    assert summary["tool calls per rollout"] == 1.0
    assert summary["reasoning tokens per rollout"] == 4.0
    assert summary["latency p50 (s)"] == 2.0
    assert summary["pass@4"] == round((0 + 1 + 1 + 0 + 1 + 1) / 6, 3)


def test_variance_plot_shows_each_item_mean_and_std_in_sorted_order(baseline):
    figure = baseline.plot_variance()
    ax = figure.axes[0]
    stats = baseline.per_item.set_index("item_id")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["A", "C", "D", "F", "B", "E"]  # by mean, then id
    plotted = {}
    for container in ax.containers:
        data_line, _, (bars,) = container
        for (x, y), segment in zip(data_line.get_xydata(), bars.get_segments(), strict=True):
            (_, low), (_, high) = segment
            plotted[labels[int(x)]] = (y, low, high)
    for item_id, (mean, low, high) in plotted.items():
        row = stats.loc[item_id]
        assert mean == pytest.approx(row["mean"])
        # ± std, cut at the item's own lowest and highest reward, so never outside [0, 1]
        assert low == pytest.approx(max(row["mean"] - row["std"], row["min"]))
        assert high == pytest.approx(min(row["mean"] + row["std"], row["max"]))
        assert 0 <= low <= mean <= high <= 1
    assert set(plotted) == set(labels)
    legend = sorted(t.get_text() for t in ax.get_legend().get_texts())
    assert legend == [
        "always_0 (1)",
        "always_1 (1)",
        "constant (1)",
        "learnable (2)",
        "unscored (1)",
    ]


def test_select_keeps_learnable_lines_in_order_and_refuses_unknown_ones(baseline):
    lines = [{"task_id": i, "messages": []} for i in "FEDCBA"]
    assert [x["task_id"] for x in baseline.select(lines)] == ["F", "C"]
    both = baseline.select(lines, buckets=("learnable", "always_1"))
    assert [x["task_id"] for x in both] == ["F", "C", "B"]
    with pytest.raises(ValueError, match="not in this baseline, e.g. 'Z'"):
        baseline.select([{"task_id": "Z"}])
    with pytest.raises(ValueError, match="unknown buckets"):
        baseline.select(lines, buckets=("easy",))


def test_one_policy_per_baseline():
    mixed = [_trace("A", 0, 1), _trace("A", 1, 0).model_copy(update={"policy": "other"})]
    with pytest.raises(ValueError, match="exactly one policy"):
        baseline_from_traces(mixed)


def test_summary_without_timings_leaves_latency_out(baseline):
    assert "latency p50 (s)" not in baseline.summary(timings=False).index
    assert "latency p50 (s)" in baseline.summary().index


def test_outlook_follows_the_task_selection_rules(baseline):
    text = baseline.outlook()
    # 20 scored rewards summing to 0+4+2+2+1+1.5 = 10.5; items with 2+ scored: A,B,C,D,F, of
    # which B,C,D,F were solved at least once; learnable: C and F of 6.
    assert text.startswith("RFT can help")
    assert "mean reward 0.525 (headroom 0.475); 80% of items solved at least once in 4" in text
    assert "33% learnable" in text
    never = baseline_from_traces([_trace("A", r, 0) for r in range(3)])
    assert never.outlook().startswith("RFT has nothing to reinforce")
    always = baseline_from_traces([_trace("A", r, 1) for r in range(3)])
    assert always.outlook().startswith("Little headroom")
    flat = baseline_from_traces([_trace(i, r, 0.5) for i in "AB" for r in range(3)])
    assert flat.outlook().startswith("Too few items vary")


def test_accuracy_counts_right_answers_that_pass_at_1_misses():
    traces = [_trace("A", r, o) for r, o in enumerate([1, 0, 1, 1])]
    outcomes = [(1.0, 1.0), (0.0, 0.0), (1.0, 0.9), (1.0, 0.85)]
    for trace, (correct, reward) in zip(traces, outcomes, strict=True):
        trace.reward = reward
        trace.grader_result = {"reward": reward, "sub_rewards": {"correct": correct}}
    baseline = baseline_from_traces(traces)
    assert baseline.accuracy() == 0.75
    assert baseline.summary(timings=False)["value"]["pass@1"] == 0.25
    spread = baseline.answer_spread()
    assert spread["right"].tolist() == [0.75] and not spread["only_process"].any()
    always_right = baseline_from_traces(traces[2:] + traces[:1])  # right every time
    only = always_right.answer_spread()
    assert only["bucket"].tolist() == ["learnable"] and only["only_process"].tolist() == [True]


def test_latency_splits_tool_time_from_the_rest(baseline):
    table = baseline.latency()
    assert table.loc["rollout", "p50 (s)"] == 2.0
    assert table.loc["tool calls", "p95 (s)"] == 0.5
    assert table.loc["model and waiting", "p50 (s)"] == 1.5
