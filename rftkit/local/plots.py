"""Training curves of local runs: validation reward, accuracy, tool calls and the tool-use
patterns (turns, parallel turns, reasoning tokens) per step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt

PANELS = (
    ("full_valid_mean_reward", "validation reward (its own grader)"),
    ("valid_accuracy", "validation accuracy"),
    ("valid_tool_calls_per_rollout", "tool calls per rollout"),
)
PATTERN_PANELS = (
    ("valid_turns", "turns per rollout"),
    ("valid_parallel_turn_share", "share of tool turns with 2+ calls"),
    ("valid_reasoning_tokens", "reasoning tokens per rollout"),
)


def validation_curves(
    events: list[dict[str, Any]], panels: tuple[tuple[str, str], ...] = PANELS
) -> dict[str, list[float]]:
    """Step and the validation metrics of every metrics event that carries them."""
    rows = [
        e["data"]
        for e in events
        if e.get("type") == "metrics" and e["data"].get("full_valid_mean_reward") is not None
    ]
    return {key: [row.get(key) for row in rows] for key in ("step", *(k for k, _ in panels))}


def plot_runs(
    runs: Mapping[str, list[dict[str, Any]]], panels: tuple[tuple[str, str], ...] = PANELS
) -> plt.Figure:
    """One line per run in each panel (e.g. ``{"course reward": events, "flat cost": events}``);
    ``panels=PATTERN_PANELS`` draws the tool-use patterns instead."""
    figure, axes = plt.subplots(1, len(panels), figsize=(12, 3.2))
    for label, events in runs.items():
        curves = validation_curves(events, panels)
        for axis, (key, title) in zip(axes, panels, strict=True):
            axis.plot(curves["step"], curves[key], marker="o", label=label)
            axis.set_title(title)
            axis.set_xlabel("GRPO step")
    axes[0].legend()
    figure.tight_layout()
    return figure
