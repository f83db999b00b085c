"""Training curves of local runs: validation reward, accuracy and tool calls per step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt

PANELS = (
    ("full_valid_mean_reward", "validation reward (its own grader)"),
    ("valid_accuracy", "validation accuracy"),
    ("valid_tool_calls_per_rollout", "tool calls per rollout"),
)


def validation_curves(events: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Step and the validation metrics of every metrics event that carries them."""
    rows = [
        e["data"]
        for e in events
        if e.get("type") == "metrics" and e["data"].get("full_valid_mean_reward") is not None
    ]
    return {key: [row[key] for row in rows] for key in ("step", *(k for k, _ in PANELS))}


def plot_runs(runs: Mapping[str, list[dict[str, Any]]]) -> plt.Figure:
    """One line per run in each panel (e.g. ``{"course reward": events, "flat cost": events}``)."""
    figure, axes = plt.subplots(1, len(PANELS), figsize=(12, 3.2))
    for label, events in runs.items():
        curves = validation_curves(events)
        for axis, (key, title) in zip(axes, PANELS, strict=True):
            axis.plot(curves["step"], curves[key], marker="o", label=label)
            axis.set_title(title)
            axis.set_xlabel("GRPO step")
    axes[0].legend()
    figure.tight_layout()
    return figure
