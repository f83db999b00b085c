"""A before/after on the same items, with standard errors: what an evaluation can tell from noise.

An evaluation rolls out each item ``k`` times from seeded random streams. Rollouts of one item
are not independent draws (they share its difficulty), so the unit here is the item: each item's
mean over its rollouts, then the mean and standard error over items. The change is paired: the
per-item difference after minus before on the items scored both times, so the items' difficulty
cancels out of it. A change smaller than about two of its standard errors is not evidence of
anything, in either direction; that is what a two-step demo shows, and why the course says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

ROWS = {
    "reward": "mean reward",
    "correct": "accuracy",
    "tool_calls": "tool calls per rollout",
}
"""The default rows: trace-frame column -> label (``rftkit.rollouts.traces_frame``'s columns)."""


@dataclass(frozen=True)
class PairedChange:
    """One metric before and after, each with its standard error over items, and the change."""

    metric: str
    before: float
    before_se: float
    after: float
    after_se: float
    change: float
    change_se: float
    items: int

    @property
    def z(self) -> float:
        """The change in standard errors (NaN when the standard error is 0 or unknown)."""
        return self.change / self.change_se if self.change_se else math.nan

    def distinguishable(self, standard_errors: float = 2.0) -> bool:
        """Whether the change is at least ``standard_errors`` of its standard errors from 0."""
        return bool(abs(self.z) >= standard_errors)


def _per_item(frame: pd.DataFrame, column: str) -> pd.Series:
    """Each item's mean of ``column`` over its scored rollouts (a discarded one has no reward)."""
    missing = {"item_id", "reward", column} - set(frame.columns)
    if missing:
        raise KeyError(f"the trace frame has no column(s) {sorted(missing)}")
    scored = frame[frame["reward"].notna()]
    return scored.groupby("item_id")[column].mean().astype(float)


def mean_se(values: pd.Series) -> tuple[float, float]:
    """The mean of per-item values and its standard error over items (NaN below two items)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    se = float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    return float(values.mean()), se


def paired_change(
    before: pd.DataFrame, after: pd.DataFrame, column: str = "reward"
) -> PairedChange:
    """``column`` before and after on the items both frames scored, paired by item.

    ``before`` and ``after`` are trace frames (one row per rollout, ``item_id`` and ``reward``
    among the columns). ValueError when the two share no scored item.
    """
    b, a = _per_item(before, column), _per_item(after, column)
    common = b.index.intersection(a.index)
    if common.empty:
        raise ValueError(f"{column}: the before and after frames share no scored item")
    b, a = b.loc[common], a.loc[common]
    (mb, sb), (ma, sa), (md, sd) = mean_se(b), mean_se(a), mean_se(a - b)
    return PairedChange(ROWS.get(column, column), mb, sb, ma, sa, md, sd, len(common))


def paired_table(
    before: pd.DataFrame, after: pd.DataFrame, columns: Sequence[str] = tuple(ROWS)
) -> pd.DataFrame:
    """One row per metric: before, after and the change, each ± its standard error over items,
    and the change in standard errors."""
    rows = {}
    for column in columns:
        c = paired_change(before, after, column)
        rows[c.metric] = {
            "before": f"{c.before:.3f} ± {c.before_se:.3f}",
            "after": f"{c.after:.3f} ± {c.after_se:.3f}",
            "change": f"{c.change:+.3f} ± {c.change_se:.3f}",
            "change / SE": round(c.z, 1),
            "items": c.items,
        }
    return pd.DataFrame.from_dict(rows, orient="index")
