"""What a dataset holds: one row per line, and the plots worth looking at before training.

A skewed dataset teaches the skew: watch the task-type and tier mix, how long the prompts are
(tokens cost money and context), and whether answers lean one way (for comparisons, how often the
first-named company wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from rftkit.data.curate import question_of
from rftkit.data.tokens import line_tokens

Record = Mapping[str, Any]


def _first_named_wins(line: Record) -> bool | None:
    """For a comparison 'Which ...: A or B?', whether the answer is A (None otherwise)."""
    if line.get("task_type") != "comparison":
        return None
    answer = str(line.get("reference_answer", ""))
    options = question_of(line).rpartition(":")[2].rstrip("?").split(" or ")
    return options[0].strip() == answer if len(options) == 2 else None


def dataset_stats(lines: Sequence[Record]) -> pd.DataFrame:
    """One row per line: id, task type, tier, unit, tokens, question length, answer, tool count."""
    rows = [
        {
            "task_id": line.get("task_id"),
            "task_type": line.get("task_type"),
            "tier": line.get("tier"),
            "unit": line.get("unit"),
            "tokens": line_tokens(dict(line)),
            "question_chars": len(question_of(line)),
            "reference_answer": line.get("reference_answer"),
            "reference_value": line.get("reference_value"),
            "tools": len(line.get("tools") or []),
            "min_tool_calls": line.get("min_tool_calls"),
            "first_named_wins": _first_named_wins(line),
        }
        for line in lines
    ]
    return pd.DataFrame(rows)


def _answer_kind(row: pd.Series) -> str:
    if row["unit"] == "company":
        return "a company name"
    if pd.isna(row["reference_value"]):
        return "no reference_value"
    return "negative" if row["reference_value"] < 0 else "zero or positive"


def plot_stats(stats: pd.DataFrame, title: str = "") -> Figure:
    """Three panels: tokens per line, lines per task type and tier, answers by unit and sign.

    Lines without a task type, tier or unit (a team's own data may have none) show as '(none)'.
    """
    stats = stats.fillna({"task_type": "(none)", "tier": "(none)", "unit": "(none)"})
    figure, (tokens, mix, answers) = plt.subplots(1, 3, figsize=(13, 3.6))
    tokens.hist(stats["tokens"], bins=20, color="tab:blue")
    tokens.set(title="tokens per line (o200k)", xlabel="tokens", ylabel="lines")
    mix_counts = stats.groupby(["task_type", "tier"]).size().unstack(fill_value=0)
    mix_counts.plot.bar(ax=mix, stacked=True, rot=30)
    mix.set(title="lines per task type and tier", xlabel="", ylabel="lines")
    kinds = stats.assign(answer=stats.apply(_answer_kind, axis=1))
    kinds.groupby(["unit", "answer"]).size().unstack(fill_value=0).plot.bar(
        ax=answers, stacked=True, rot=0
    )
    answers.set(title="answers by unit", xlabel="", ylabel="lines")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
