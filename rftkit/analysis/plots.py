"""The plots people look at instead of reading logs. Each returns a matplotlib Figure."""

from __future__ import annotations

from collections.abc import Collection

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from rftkit.analysis.patterns import NOT_A_TOOL
from rftkit.analysis.traces import change_sign, tool_counts

BEFORE, AFTER = "#8c8c8c", "#1f77b4"


def reward_curves(metrics: pd.DataFrame, graders: pd.DataFrame | None = None) -> Figure:
    """Train and validation reward per step; per-grader validation reward beside it if given.

    Where the events carry standard errors over lines (the local engine's do; hosted events carry
    means only), validation points get ±1 SE bars and the train curve a ±1 SE band; a step-0
    validation (the starting model) is the base point every later one is read against."""
    panels = 2 if graders is not None and not graders.empty else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.2), squeeze=False)
    ax = axes[0, 0]
    train = metrics.dropna(subset=["train_reward_mean"])
    ax.plot(
        train["step"],
        train["train_reward_mean"],
        label="train (noisy: new batch per step)",
        color="#ff7f0e",
        alpha=0.8,
    )
    if "train_reward_se" in train.columns:
        low = train["train_reward_mean"] - train["train_reward_se"]
        high = train["train_reward_mean"] + train["train_reward_se"]
        ax.fill_between(train["step"], low, high, color="#ff7f0e", alpha=0.15, linewidth=0)
    valid = metrics.dropna(subset=["valid_reward_mean"])
    errors = valid.get("valid_reward_se")
    _points(ax, valid["step"], valid["valid_reward_mean"], errors, label="validation", color=AFTER)
    ax.set(xlabel="step", ylabel="mean reward", title="Reward (bars: ±1 SE over lines)")
    ax.legend(fontsize=8)
    if panels == 2:
        ax = axes[0, 1]
        for name, rows in graders[graders["split"] == "valid"].groupby("grader"):
            _points(ax, rows["step"], rows["reward_mean"], rows.get("reward_se"), label=name)
        ax.set(xlabel="step", ylabel="mean reward", title="Validation reward per grader")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _points(ax, steps, means, errors, **style) -> None:
    """A validation curve: error bars where standard errors are known, plain points elsewhere."""
    known = errors is not None and bool(errors.notna().any())
    ax.errorbar(steps, means, yerr=errors if known else None, fmt="o-", capsize=3, **style)


def tool_calls(
    before: pd.DataFrame, after: pd.DataFrame, tools: Collection[str] | None = None
) -> Figure:
    """Distribution of tool calls per rollout, and mean calls per tool, before vs after.

    With ``tools`` (the names the job serves), calls to any other name — a model's misspelt or
    garbled tool names — are one bar, ``(not a tool)``, instead of one bar per garbled name.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))
    top = int(max(before["tool_calls"].max(), after["tool_calls"].max())) + 1
    bins = [x - 0.5 for x in range(top + 1)]
    left.hist(before["tool_calls"], bins=bins, alpha=0.6, color=BEFORE, label="before")
    left.hist(after["tool_calls"], bins=bins, alpha=0.6, color=AFTER, label="after")
    left.set(xlabel="tool calls in the rollout", ylabel="rollouts", title="Tool calls per rollout")
    left.legend(fontsize=8)
    per_tool = pd.DataFrame(
        {"before": _per_tool(before, tools), "after": _per_tool(after, tools)}
    ).fillna(0)
    per_tool.plot.barh(ax=right, color=[BEFORE, AFTER])
    right.set(xlabel="mean calls per rollout", title="Calls per tool")
    fig.tight_layout()
    return fig


def _per_tool(rollouts: pd.DataFrame, tools: Collection[str] | None) -> pd.Series:
    means = tool_counts(rollouts).mean()
    if tools is None:
        return means
    known = means[means.index.isin(list(tools))]
    return pd.concat([known, pd.Series({NOT_A_TOOL: means.drop(known.index).sum()})])


def tokens_and_latency(before: pd.DataFrame, after: pd.DataFrame) -> Figure:
    """Completion tokens (reasoning tokens when the runs have any) and tool time per rollout.

    The reasoning-token panel appears only when a run reports reasoning tokens: the local model
    and most open-weights chat models have none, and an empty panel says nothing.
    """
    columns = [("output_tokens", "completion tokens")]
    if (before["reasoning_tokens"] > 0).any() or (after["reasoning_tokens"] > 0).any():
        columns.append(("reasoning_tokens", "reasoning tokens"))
    columns.append(("tool_latency_s", "tool time per rollout (s)"))
    fig, axes = plt.subplots(1, len(columns), figsize=(3.7 * len(columns), 3), squeeze=False)
    for ax, (column, label) in zip(axes[0], columns, strict=True):
        ax.boxplot([before[column], after[column]], tick_labels=["before", "after"])
        ax.set(title=label)
    fig.tight_layout()
    return fig


def error_rates(runs: dict[str, pd.DataFrame]) -> Figure:
    """Share of rollouts discarded, with tool errors, and without a reward, per run."""
    rates = pd.DataFrame(
        {
            name: {
                "discarded": (frame["status"] == "discarded").mean(),
                "≥1 tool error": (frame["tool_errors"] > 0).mean(),
                "timed out": (frame["status"] == "timeout").mean(),
            }
            for name, frame in runs.items()
        }
    )
    ax = rates.plot.bar(figsize=(6, 3), rot=0, color=[BEFORE, AFTER][: len(runs)])
    ax.set(ylabel="share of rollouts", title="Errors", ylim=(0, max(0.05, rates.max().max() * 1.2)))
    ax.figure.tight_layout()
    return ax.figure


REWARD_COLOURS = {1: ("better", "#2ca02c"), 0: ("same reward", BEFORE), -1: ("worse", "#d62728")}


def quadrant(comparison: pd.DataFrame) -> Figure:
    """Per item: change in reward against change in tool calls (top-left = better and cheaper).

    Points are coloured by whether the reward rose, stayed or fell (``compare_runs``' classes),
    so items that did not change reward are not read as gains.
    """
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(0, color="black", lw=0.8)
    reward_change = comparison["delta_reward"].map(change_sign)
    for sign, (label, colour) in REWARD_COLOURS.items():
        rows = comparison[reward_change == sign]
        if len(rows):
            ax.scatter(
                rows["delta_tool_calls"],
                rows["delta_reward"],
                alpha=0.6,
                color=colour,
                label=f"{label} ({len(rows)} items)",
            )
    ax.set(
        xlabel="Δ tool calls per rollout", ylabel="Δ mean reward", title="Per item, after − before"
    )
    ax.legend(fontsize=8, loc="lower left")
    ax.text(0.02, 0.97, "better & cheaper", transform=ax.transAxes, va="top", fontsize=8)
    ax.text(
        0.98, 0.97, "better, more calls", transform=ax.transAxes, va="top", ha="right", fontsize=8
    )
    fig.tight_layout()
    return fig


def checkpoint_curves(
    table: pd.DataFrame,
    steps: dict[str, int],
    metrics: tuple[str, ...] = ("reward",),
    parts: tuple[str, ...] = (),
) -> Figure:
    """Validation reward (and each of ``parts``, the sub-scores) of every checkpoint against its
    step, with ±1 standard-error bars; ``table`` has a row per checkpoint with ``name`` and
    ``name SE`` columns, ``steps`` maps each row to its step (the base model is step 0)."""
    panels = 2 if parts else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.2), squeeze=False)
    x = [steps[name] for name in table.index]
    for ax, names, title in (
        (axes[0, 0], metrics, "Validation reward by checkpoint"),
        *(((axes[0, 1], parts, "Validation sub-scores"),) if parts else ()),
    ):
        for name in names:
            ax.errorbar(x, table[name], yerr=table[f"{name} SE"], marker="o", capsize=3,
                        label=name)  # fmt: skip
        ax.set(xlabel="step (0 = base model)", ylabel="mean ± 1 SE", title=title, xticks=x)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
