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
    from rftkit.local.pretrain import load_model

    counted = f"{load_model()[0].num_parameters():,}"
    assert _output("00_welcome.ipynb", "params00").strip() == f"{counted} parameters"
    assert f"{counted} parameters" in _cell("00_welcome.ipynb", "demo00-prose").source
    assert "~1M" not in _cell("00_welcome.ipynb", "285966e6").source


def test_04_quotes_the_local_models_learnable_items():
    summary = _output("04_baseline_and_triage.ipynb", "dafefcb0")
    learnable, items = _table_value(summary, "items learnable"), _table_value(summary, "items")
    prose = _cell("04_baseline_and_triage.ipynb", "29353b46").source
    assert f"{learnable} of the {items}" in prose
    assert "handful" not in prose


def test_04_quotes_the_wasteful_policys_constant_reward():
    table = _output("04_baseline_and_triage.ipynb", "ffea9985")
    wasteful = re.search(r"^mean reward\s+\S+\s+\S+\s+(\S+)\s*$", table, re.MULTILINE).group(1)
    assert f"same* reward every time ({wasteful}:" in _cell(
        "04_baseline_and_triage.ipynb", "c168fea1"
    ).source


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
