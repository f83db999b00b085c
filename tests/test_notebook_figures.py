"""Figures the course's prose quotes are the figures its cells print.

nbval proves that each committed output is what its cell makes; these tests prove that the prose
around them quotes those outputs (and, where cheap, the committed result behind them), so a
re-executed notebook whose numbers moved cannot keep describing the old ones.
"""

import re
from pathlib import Path

import nbformat
import pytest

from rftkit.analysis.traces import compare_runs
from rftkit.jobs.platforms import price_for
from rftkit.rollouts import load_traces, traces_frame

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _cell(name: str, cell_id: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def _output(name: str, cell_id: str) -> str:
    """Everything the cell printed or displayed as text."""
    texts = []
    for output in _cell(name, cell_id).outputs:
        texts.append("".join(output.get("text", "")))
        texts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def _table_value(text: str, row: str) -> str:
    """The value printed after ``row`` in a one-column table (``summary()`` and friends)."""
    match = re.search(rf"^{re.escape(row)}\s+(\S+)\s*$", text, re.MULTILINE)
    assert match, f"no row {row!r} in:\n{text}"
    return match.group(1)


def test_00_quotes_the_models_parameter_count():
    torch = pytest.importorskip("torch")  # noqa: F841 - the model needs the train extra
    from rftkit.local.checkpoint import load_model

    counted = f"{load_model()[0].num_parameters():,}"
    assert _output("00_welcome.ipynb", "params00").strip() == f"{counted} parameters"
    assert f"{counted} parameters" in _cell("00_welcome.ipynb", "demo00-prose").source
    assert "~1M" not in _cell("00_welcome.ipynb", "285966e6").source


def test_03_quotes_its_kappas_and_the_graders_mean_rewards():
    name = "03_grader_design.ipynb"
    side_by_side = _output(name, "irr0code")  # the table wraps (a long CI note): read the claims
    inter_rater = re.search(r"inter-rater κ (\d\.\d{3})", side_by_side)
    grader = re.search(r"the grader's κ (\d\.\d{3})", side_by_side)
    assert inter_rater and grader, side_by_side
    inter_rater, grader = inter_rater.group(1), grader.group(1)
    assert _table_value(_output(name, "20c86517"), "Cohen's kappa") == grader
    prose = _cell(name, "irr0md2").source
    assert f"inter-rater κ {inter_rater}" in prose and f"grader's κ {grader}" in prose
    means = _output(name, "traj0mean")
    table = _cell(name, "traj0md4").source
    for policy in ("efficient", "wasteful"):
        row = re.search(rf"^{policy}\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s*$", means, re.MULTILINE)
        assert row, means
        dict_every_call, dict_last_turn = (f"{float(v):.3f}" for v in row.groups())
        trajectory = re.search(rf"^{policy}\s+(\S+)\s*$", means, re.MULTILINE).group(1)
        quoted = f"| {policy} rollouts | {dict_every_call} | {dict_last_turn} | "
        assert quoted + f"{float(trajectory):.3f} |" in table, (quoted, table)


def test_04_quotes_the_local_models_learnable_items():
    summary = _output("04_baseline_and_triage.ipynb", "dafefcb0")
    learnable, items = _table_value(summary, "items learnable"), _table_value(summary, "items")
    prose = _cell("04_baseline_and_triage.ipynb", "29353b46").source
    assert f"{learnable} of the {items}" in prose
    assert "handful" not in prose


def test_04_quotes_the_wasteful_policys_constant_reward():
    table = _output("04_baseline_and_triage.ipynb", "ffea9985")
    wasteful = re.search(r"^mean reward\s+\S+\s+\S+\s+(\S+)\s*$", table, re.MULTILINE).group(1)
    assert (  # constant per item, not across items: the mean is what the prose quotes
        f"reward on every rollout of an item ({wasteful} on average:"
        in _cell("04_baseline_and_triage.ipynb", "c168fea1").source.replace("\n", " ")
    )


def test_06_quotes_the_runs_size_and_shows_the_runs_change_classes():
    printed = _output("06_result_analysis.ipynb", "003bd38c")
    rollouts = re.search(r"(\d+) rollouts before and (\d+) after", printed)
    assert rollouts and rollouts.group(1) == rollouts.group(2)
    intro = _cell("06_result_analysis.ipynb", "0da7e80b").source
    assert f"this run has {rollouts.group(1)} rollouts on each side" in intro

    run = NOTEBOOKS / "data" / "demo_run"
    before, after = (
        traces_frame(load_traces(run / f"traces_{side}.jsonl")) for side in ("before", "after")
    )
    counts = compare_runs(before, after)["quadrant"].value_counts()
    shown = _output("06_result_analysis.ipynb", "c472d0c1")
    for change, n in counts.items():
        assert re.search(rf"^{re.escape(change)}\s+{n}\s*$", shown, re.MULTILINE), (change, shown)


def test_06_quotes_its_tool_use_patterns():
    name = "06_result_analysis.ipynb"
    table = _output(name, "pat06-table")

    def row(label: str) -> tuple[str, str]:
        pattern = rf"^{re.escape(label)}\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s*$"  # change, its SE
        match = re.search(pattern, table, re.MULTILINE)
        assert match, (label, table)
        return match.group(1), match.group(2)

    prose = _cell(name, "pat06-read").source
    for label in (
        "turns per rollout",
        "share of tool turns with 2+ calls",
        "reasoning tokens per rollout",
        "share of rollouts that read the evidence",
        "calls after the evidence was read",
    ):
        assert "{} → {}".format(*row(label)) in prose, label

    from rftkit.analysis.patterns import tool_choice
    from rftkit.course.dataset import course_dataset

    items = {f"w{seed}-{line['task_id']}": line
             for seed in (100, 101) for line in course_dataset(seed=seed, style="compact", n=20)}
    run = NOTEBOOKS / "data" / "demo_run"
    listed = [int(tool_choice(load_traces(run / f"traces_{side}.jsonl"), items)
                  .loc["lookup"].get("list_files", 0)) for side in ("before", "after")]  # fmt: skip
    assert f"listed folders **{listed[0]}** times, the trained one **{listed[1]}** times" in prose
    examples = _output(name, "ex06rollouts")
    assert "calls in one turn]" in examples and "reasoning tokens]" in examples


def test_06_quotes_its_latencies_and_forecast():
    name = "06_result_analysis.ipynb"
    latency = _output(name, "cost06-latency")
    concurrent = [
        re.search(rf"^concurrent: {side}\s+(\S+)\s+(\S+)\s*$", latency, re.MULTILINE).group(1)
        for side in ("base", "step-24")
    ]
    for side in ("base", "step-24"):  # measured alone too: the concurrent run's time is queueing
        assert re.search(rf"^interleaved: {side}\s+\S+\s+\S+\s*$", latency, re.MULTILINE)
    prose = " ".join(_cell(name, "cost06-price-md").source.split())
    assert f"(p50 {concurrent[0]} → {concurrent[1]} s) measured the queue" in prose

    printed = _output(name, "cost06-price")
    cost = re.search(r"^cost \(USD\)\s+(\d+)\s+(\d+)\s*$", printed, re.MULTILINE).groups()
    rollouts = re.search(r"^rollouts \(training \+ validation\)\s+(\d+)", printed, re.MULTILINE)
    per_step = re.search(r"^rollouts per step\s+(\d+)", printed, re.MULTILINE).group(1)
    reading = _cell(name, "cost06-read").source
    assert f"**${cost[0]} to ${cost[1]}** for {int(rollouts.group(1)):,} graded rollouts" in reading
    assert f"{per_step} rollouts start together" in reading
    price = price_for("azure", "o4-mini-2025-04-16")  # the row is printed with source and date
    assert f"[{price.source}, {price.checked}]" in printed
    assert f"rate: ${price.usd_per_training_hour:,.0f} per training hour" in printed


def test_01_quotes_its_training_lines_against_the_guidance():
    name = "01_data_curation.ipynb"
    printed = _output(name, "enough01-code")
    match = re.search(r"^(\d+) training lines: (below|within|above) the typical 100-1000", printed)
    assert match, printed
    assert (
        f"So an {match.group(1)}-line set is at the scarce end" in _cell(name, "enough01-md").source
    )
    assert match.group(2) == "below"  # "the scarce end" is only true below the range


def test_05_quotes_the_three_seeds_results():
    from rftkit.local.results import load_results

    runs = load_results()
    prose = _cell("05_job_launch.ipynb", "seeds05read").source
    base = runs[0]["base"]
    reasoning = [f"{run['trained']['reasoning_tokens_mean']:.2f}" for run in runs.values()]
    after = f"{', '.join(reasoning[:-1])} and {reasoning[-1]}"
    quoted = f"{base['reasoning_tokens_mean']:.2f} → {after}"
    assert quoted in prose, quoted
    shares = [f"{run['parallel_turn_share_independent']['trained']:.1%}" for run in runs.values()]
    before = f"{runs[0]['parallel_turn_share_independent']['base']:.1%}"
    assert f"from **{before} to {', '.join(shares[:-1])} and {shares[-1]}**" in prose
    gains = sorted(run["reward_gain"] / run["reward_gain_se"] for run in runs.values())
    assert f"+{gains[0]:.1f} to +{gains[-1]:.1f} paired standard errors" in prose
    cpu = sorted(run["grpo_cpu_seconds"] / 60 for run in runs.values())
    assert f"GRPO took {cpu[0]:.2f} to {cpu[-1]:.2f} CPU-minutes" in prose
    hops = [run["trained"]["accuracy_by_type"]["multi_hop"] for run in runs.values()]
    base_hops = {run["base"]["accuracy_by_type"]["multi_hop"] for run in runs.values()}
    assert base_hops == {0.0} and "the base model solves none of them" in prose
    solved = [seed for seed, hop in zip(runs, hops, strict=True) if hop]
    assert all(f"seed {seed} solves {hops[seed]:.1%}" in prose for seed in solved)
    assert solved or "no seed's trained model solves any" in " ".join(prose.split())
