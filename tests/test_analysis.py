"""Analysis frames, plots and the HTML report on real rollouts.

The two runs are real rollouts through the real tool service and the course grader, acted out by
the scripted policies (wasteful = "before", guessing = "after"): they exercise every path of the
analysis with known shapes, and are labelled as scripted, not as model outputs.
"""

import json
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from rftkit.analysis import plots
from rftkit.analysis.events import grader_frame, load_events, metrics_frame
from rftkit.analysis.report import summary_table, write_html_report
from rftkit.analysis.traces import (
    compare_runs,
    per_item,
    regressions,
    side_by_side,
    tool_bigrams,
    tool_counts,
)
from rftkit.course.grader import course_grader
from rftkit.course.scripted import ScriptedPolicy
from rftkit.course.session import course_session
from rftkit.rollouts import load_traces, run_rollouts_sync, traces_frame

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def runs():
    with course_session(seed=0, style="compact", n=12) as course:
        common = dict(tools=course.job_tools, grader=course_grader(), repeats=2, progress=False)
        before = run_rollouts_sync(course.items, ScriptedPolicy(course.items, "wasteful"), **common)
        after = run_rollouts_sync(course.items, ScriptedPolicy(course.items, "guessing"), **common)
    return before, after


def test_frames_carry_correctness_and_tool_sequences(runs):
    before, after = (traces_frame(t) for t in runs)
    assert len(before) == len(after) == 24
    assert before["correct"].all()  # the wasteful script always ends on the right answer
    assert set(before["tool_sequence"].iloc[0]) <= {
        "search",
        "list_files",
        "read_file",
        "calculator",
    }
    assert (before["tool_calls"] == before["tool_sequence"].map(len)).all()
    counts = tool_counts(before)
    assert (counts.sum(axis=1) == before["tool_calls"]).all()


def test_bigrams_find_the_wasteful_loops(runs):
    bigrams = tool_bigrams(traces_frame(runs[0]))
    assert bigrams["repeat"].any()
    top = bigrams.iloc[0]
    assert top["count"] == bigrams["count"].max()


def test_compare_runs_quadrants_match_the_deltas(runs):
    before, after = (traces_frame(t) for t in runs)
    comparison = compare_runs(before, after)
    assert len(comparison) == 12
    assert (comparison["delta_tool_calls"] < 0).all()  # guessing makes one call, wasteful many
    for _, row in comparison.iterrows():
        if row["delta_reward"] < 0:
            assert row["quadrant"] == "worse, fewer calls"
        elif row["delta_reward"] > 0:
            assert row["quadrant"] == "better & cheaper"
        else:
            assert row["quadrant"] == "same reward, fewer calls"
    worst = regressions(comparison, n=3)
    assert list(worst["delta_reward"]) == sorted(worst["delta_reward"])
    assert (worst["delta_reward"] < 0).all()
    item = per_item(before)
    assert item.loc[comparison.index[0], "reward"] == comparison.iloc[0]["reward_before"]


def _run(rows):
    """A rollouts frame from (item_id, reward, tool_calls) rows."""
    return pd.DataFrame(
        [
            {"item_id": i, "reward": r, "correct": r == 1, "tool_calls": c}
            for i, r, c in rows
        ]
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ((0.5, 3), (0.5, 2), "same reward, fewer calls"),
        ((0.5, 3), (0.5, 3), "unchanged"),
        ((0.5, 3), (0.5, 4), "same reward, more calls"),
        ((0.5, 3), (0.9, 3), "better, same calls"),
        ((0.5, 3), (0.1, 3), "worse, same calls"),
        ((0.0, 3), (0.0, 0), "same reward, fewer calls"),
        ((0.5, 3), (0.9, 2), "better & cheaper"),
        ((0.5, 3), (0.9, 4), "better, more calls"),
        ((0.5, 3), (0.1, 2), "worse, fewer calls"),
        ((0.5, 3), (0.1, 4), "worse & more calls"),
    ],
)
def test_ties_are_never_gains(before, after, expected):
    comparison = compare_runs(_run([("a", *before)]), _run([("a", *after)]))
    assert comparison.loc["a", "quadrant"] == expected


def test_a_mean_equal_up_to_rounding_is_a_tie():
    # 0.1 + 0.2 + 0.3 and 0.3 + 0.2 + 0.1 differ in the last bit; the item did not change
    before = _run([("a", 0.1, 1), ("a", 0.2, 1), ("a", 0.3, 1)])
    after = _run([("a", 0.3, 1), ("a", 0.2, 1), ("a", 0.1, 1)])
    assert compare_runs(before, after).loc["a", "quadrant"] == "unchanged"
    assert regressions(compare_runs(before, after)).empty


def test_the_demo_runs_ties_are_counted_as_ties():
    """The committed run notebook 06 reads: items whose reward did not move are not gains."""
    run = Path(__file__).parents[1] / "notebooks" / "data" / "demo_run"
    before, after = (
        traces_frame(load_traces(run / f"traces_{side}.jsonl")) for side in ("before", "after")
    )
    counts = compare_runs(before, after)["quadrant"].value_counts().to_dict()
    # the old rule (dr >= 0, dc <= 0) would put 29 items in "better & cheaper"; 12 are ties
    assert counts["better & cheaper"] == 12
    assert counts["same reward, fewer calls"] == 9
    assert counts["unchanged"] == 3
    assert counts["same reward, more calls"] == 2
    assert counts["better, same calls"] == 5
    assert sum(counts.values()) == 40


def test_side_by_side_shows_both_rollouts(runs):
    frame = traces_frame(runs[1])
    item_id = frame["item_id"].iloc[0]
    table = side_by_side(runs[0], runs[1], item_id)
    assert list(table.columns) == ["before", "after"]
    assert table["before"].str.startswith("→ ").any()
    assert table["after"].str.startswith("answer: ").any()


def test_summary_table_and_plots(runs):
    before, after = (traces_frame(t) for t in runs)
    summary = summary_table(before, after)
    assert summary.loc["accuracy", "before"] == 1.0
    assert summary.loc["tool calls per rollout", "change"] < 0
    assert summary.loc["rollouts scored", "after"] == 24
    for fig in (
        plots.tool_calls(before, after),
        plots.tokens_and_latency(before, after),
        plots.error_rates({"before": before, "after": after}),
        plots.quadrant(compare_runs(before, after)),
    ):
        assert fig.axes and all(ax.has_data() or ax.patches for ax in fig.axes)


def test_summary_counts_are_integers_and_every_row_has_its_change(runs):
    before, after = (traces_frame(t) for t in runs)
    summary = summary_table(before, after)
    assert summary.loc["rollouts scored"].tolist() == [24, 24, 0]
    assert all(type(v) is int for v in summary.loc["rollouts discarded"])
    assert summary.notna().all().all()
    assert "24.000" not in summary.to_string() and "NaN" not in summary.to_string()


def test_reasoning_panel_only_when_a_run_has_reasoning_tokens(runs):
    before, after = (traces_frame(t) for t in runs)
    titles = [ax.get_title() for ax in plots.tokens_and_latency(before, after).axes]
    assert titles == ["completion tokens", "tool time per rollout (s)"]
    thinking = after.assign(reasoning_tokens=after["reasoning_tokens"] + 7)
    titles = [ax.get_title() for ax in plots.tokens_and_latency(before, thinking).axes]
    assert titles == ["completion tokens", "reasoning tokens", "tool time per rollout (s)"]


def test_calls_to_names_that_are_not_tools_share_one_bar(runs):
    before, after = (traces_frame(t) for t in runs)
    garbled = before.copy()
    garbled["tool_sequence"] = [
        (*seq, "calculatornot", f"calc{i}") for i, seq in enumerate(garbled["tool_sequence"])
    ]
    served = ["search", "list_files", "read_file", "calculator"]
    right = plots.tool_calls(garbled, after, tools=served).axes[1]
    names = [t.get_text() for t in right.get_yticklabels()]
    assert set(names) <= {*served, plots.NOT_A_TOOL} and plots.NOT_A_TOOL in names
    bars = right.containers[0]  # "before": two garbled calls per rollout
    assert bars[names.index(plots.NOT_A_TOOL)].get_width() == pytest.approx(2.0)
    unlumped = plots.tool_calls(garbled, after).axes[1]
    assert len(unlumped.get_yticklabels()) > len(names)


def test_html_report_is_self_contained(runs, tmp_path):
    before, after = (traces_frame(t) for t in runs)
    path = write_html_report(
        tmp_path / "report.html", title="scripted runs", before=before, after=after
    )
    html = path.read_text()
    assert html.count("data:image/png;base64,") == 4
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "Items that regressed" in html
    assert "Items by change in reward and tool calls" in html
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert "NaN" not in text and "24.000" not in text
    assert "overflow-x:auto" in html  # wide tables scroll inside the page


def test_events_are_read_from_either_spelling(tmp_path):
    events = [
        {
            "object": "fine_tuning.job.event",
            "type": "metrics",
            "data": {"step": 2, "train_mean_reward": 0.5, "full_valid_mean_reward": 0.6},
        },
        {"object": "fine_tuning.job.event", "type": "message", "message": "Step 1/2"},
        {
            "object": "fine_tuning.job.event",
            "type": "metrics",
            "data": {
                "step": 1,
                "scores": {
                    "train_reward_mean": 0.25,
                    "valid_reward_mean": None,
                    "graders": [
                        {
                            "name": "correct",
                            "type": "python",
                            "train_reward_mean": 0.3,
                            "valid_reward_mean": 0.4,
                        }
                    ],
                },
            },
        },
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    metrics = metrics_frame(load_events(path))
    assert list(metrics["step"]) == [1, 2]
    assert list(metrics["train_reward_mean"]) == [0.25, 0.5]
    assert metrics["valid_reward_mean"].iloc[1] == 0.6
    graders = grader_frame(events)
    assert graders.drop(columns="reward_se").to_dict("records") == [
        {"step": 1, "grader": "correct", "split": "train", "reward_mean": 0.3},
        {"step": 1, "grader": "correct", "split": "valid", "reward_mean": 0.4},
    ]
    assert graders["reward_se"].isna().all()  # hosted events carry means only: none invented
    assert "valid_reward_se" not in metrics.columns
    assert plots.reward_curves(metrics, graders).axes[1].has_data()


def test_a_broken_events_file_names_the_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "metrics", "data": {"step": 1}}\n{not json\n')
    with pytest.raises(ValueError, match=r"events.jsonl:2"):
        load_events(path)


def test_local_events_with_a_step_0_plot_when_read_through_the_sdk():
    """The local engine's step 0 has no training figures (None), and the SDK hands events over as
    objects: the frame turns the Nones into NaN, so the curves draw the base point and the bars."""
    from openai.types.fine_tuning import FineTuningJobEvent

    def event(n, data):
        return FineTuningJobEvent(id=f"e{n}", object="fine_tuning.job.event", created_at=n,
                                  level="info", message="m", type="metrics", data=data)  # fmt: skip

    events = [
        event(0, {"step": 0, "train_mean_reward": None, "train_reward_se": None,
                  "full_valid_mean_reward": 0.3, "full_valid_reward_se": 0.05}),
        event(1, {"step": 1, "train_mean_reward": 0.4, "train_reward_se": 0.06,
                  "full_valid_mean_reward": None, "full_valid_reward_se": None}),
        event(2, {"step": 2, "train_mean_reward": 0.5, "train_reward_se": 0.07,
                  "full_valid_mean_reward": 0.45, "full_valid_reward_se": 0.05}),
    ]  # fmt: skip
    metrics = metrics_frame(load_events(events))
    assert metrics["train_reward_se"].dtype == float and metrics["train_reward_se"].isna()[0]
    assert metrics["valid_reward_se"].tolist()[::2] == [0.05, 0.05]
    fig = plots.reward_curves(metrics)
    bars = [c for c in fig.axes[0].containers if c.has_yerr]
    assert len(bars[0].lines[2][0].get_segments()) == 2  # steps 0 and 2
