"""A run's summary as a terminal table and as one self-contained HTML file.

The HTML embeds its plots as base64 PNG and uses no script or stylesheet from elsewhere, so it
opens offline and can be attached to a ticket as is.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from rftkit.analysis import plots
from rftkit.analysis.events import grader_frame, metrics_frame
from rftkit.analysis.traces import compare_runs, regressions, tool_bigrams

SUMMARY_ROWS = {
    "mean reward": ("reward", "mean"),
    "accuracy": ("correct", "mean"),
    "tool calls per rollout": ("tool_calls", "mean"),
    "completion tokens per rollout": ("output_tokens", "mean"),
    "tool time per rollout (s)": ("tool_latency_s", "mean"),
    "rollout time (s)": ("latency_s", "mean"),
}


REGRESSION_COLUMNS = [
    "reward_before",
    "reward_after",
    "tool_calls_before",
    "tool_calls_after",
    "quadrant",
]


def summary_table(before: pd.DataFrame, after: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Before/after/change of the headline figures over scored rollouts, plus rollout counts.

    Means are rounded to ``digits``; counts stay integers (the columns are of object dtype so
    that a count never prints as ``80.000``), and every row has its change.
    """
    rows = {}
    for label, (column, how) in SUMMARY_ROWS.items():
        b = before.loc[before["reward"].notna(), column].astype(float).agg(how)
        a = after.loc[after["reward"].notna(), column].astype(float).agg(how)
        rows[label] = [round(float(x), digits) for x in (b, a, a - b)]
    counts = {
        "rollouts scored": lambda frame: frame["reward"].notna().sum(),
        "rollouts discarded": lambda frame: (frame["status"] == "discarded").sum(),
    }
    for label, count in counts.items():
        b, a = int(count(before)), int(count(after))
        rows[label] = [b, a, a - b]
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["before", "after", "change"], dtype=object
    )


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_html_report(
    path: str | Path,
    *,
    title: str,
    before: pd.DataFrame,
    after: pd.DataFrame,
    events: Iterable[dict[str, Any]] = (),
    notes: str = "",
    tools: Collection[str] | None = None,
) -> Path:
    """Write the report to ``path`` and return it.

    ``tools``: the tool names the job serves; calls to other names are counted as one bar.
    """
    events = list(events)
    comparison = compare_runs(before, after)
    sections = [
        ("Summary", summary_table(before, after).to_html()),
    ]
    figures = []
    metrics = metrics_frame(events)
    if not metrics.empty:
        figures.append(
            ("Reward during training", plots.reward_curves(metrics, grader_frame(events)))
        )
    figures += [
        ("Tool calls", plots.tool_calls(before, after, tools)),
        ("Tokens and latency", plots.tokens_and_latency(before, after)),
        ("Errors", plots.error_rates({"before": before, "after": after})),
        ("Per item", plots.quadrant(comparison)),
    ]
    loops = tool_bigrams(after)
    sections.append(
        ("Repeated tool-call pairs after training", loops.head(10).to_html(index=False))
    )
    classes = comparison["quadrant"].value_counts().rename_axis("change").rename("items")
    sections.append(("Items by change in reward and tool calls", classes.to_frame().to_html()))
    sections.append(
        ("Items that regressed", regressions(comparison)[REGRESSION_COLUMNS].round(3).to_html())
    )
    body = [f"<h1>{html.escape(title)}</h1>"]
    if notes:
        body.append(f"<p>{html.escape(notes)}</p>")
    for heading, table in sections[:1]:
        body.append(f"<h2>{heading}</h2>{table}")
    for heading, fig in figures:
        body.append(
            f'<h2>{heading}</h2><img alt="{heading}" src="data:image/png;base64,{_png(fig)}">'
        )
    for heading, table in sections[1:]:
        body.append(f"<h2>{heading}</h2>{table}")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;overflow-wrap:anywhere}"
        "img{max-width:100%}"
    )
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
