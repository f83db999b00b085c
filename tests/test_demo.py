"""The README's first command, as a newcomer runs it: ``python -m rftkit demo --quick`` in a fresh,
empty working directory with the default (relative) ``--out``. Every stage runs for real (HTTP
tools, grader, GRPO), at small sizes."""

import json

import matplotlib
import pytest
from commands import run_rftkit

from rftkit.analysis import plots
from rftkit.analysis.events import grader_frame, load_events, metrics_frame
from rftkit.local.plots import PATTERN_PANELS, plot_runs, validation_curves
from rftkit.rollouts import load_traces

matplotlib.use("Agg")
STAGES = [
    "1/7 dataset: held-out worlds, validated",
    "2/7 tools served over HTTP on loopback",
    "3/7 checks: grader and endpoints",
    "4/7 baseline: base model, 2 rollouts per item",
    "5/7 training: GRPO on the local backend, the course task",
    "6/7 evaluation: trained model, same items and rollouts",
    "7/7 report",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("fresh")  # empty: nothing of the checkout's runs/ is there
    done = run_rftkit(cwd, "demo", "--quick")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return cwd / "runs" / "demo", done.stdout


def test_every_stage_ran_and_wrote_its_outputs_under_the_default_relative_out(demo):
    out, stdout = demo
    assert [
        line[2:].removesuffix(" …") for line in stdout.splitlines() if line.startswith("▶ ")
    ] == (STAGES)
    assert stdout.count("  done in ") == 7
    before, after = (
        load_traces(out / "traces_before.jsonl"),
        load_traces(out / "traces_after.jsonl"),
    )
    assert len(before) == len(after) == 10 * 2
    assert {t.policy for t in before} == {"rftkit-local-tinylm"}
    scored = int(
        next(ln for ln in stdout.splitlines() if ln.startswith("rollouts scored")).split()[2]
    )
    assert 0 < scored <= 20
    assert scored == sum(t.reward is not None for t in before)
    assert "report: runs/demo/report.html" in stdout
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert (out / "task" / "task.json").is_file() and (out / "job").is_dir()


def test_training_events_follow_the_rft_metrics_layout(demo):
    out, _ = demo
    events = load_events(out / "events.jsonl")
    assert all(e["object"] == "fine_tuning.job.event" for e in events)
    metrics = metrics_frame(events)
    assert list(metrics["step"]) == [0, 1, 2]  # step 0: the base model, validated
    assert metrics["train_reward_mean"].isna().tolist() == [True, False, False]
    assert metrics["valid_reward_mean"].notna().all()  # eval_interval=1 in the quick config
    assert (metrics["valid_reward_se"] > 0).all()  # over lines: the quick config's are not equal
    graders = grader_frame(events)
    assert graders.query("split == 'valid'")["reward_se"].notna().all()
    fig = plots.reward_curves(metrics, graders)
    assert fig.axes[0].has_data()
    bars = [c for c in fig.axes[0].containers if c.has_yerr]
    assert bars and len(bars[0].lines[2][0].get_segments()) == 3  # an error bar at each step
    json.dumps(events)  # the file round-trips as plain JSON


def test_local_validation_curves_plot_the_demo_run(demo):
    out, _ = demo
    events = load_events(out / "events.jsonl")
    curves = validation_curves(events)
    assert curves["step"] == [0, 1, 2]  # the base, then eval_interval=1 in the quick config
    fig = plot_runs({"demo": events})
    assert all(ax.has_data() for ax in fig.axes)
    patterns = validation_curves(events, PATTERN_PANELS)
    assert all(value is not None for key, _ in PATTERN_PANELS for value in patterns[key])
    assert all(ax.has_data() for ax in plot_runs({"demo": events}, PATTERN_PANELS).axes)
