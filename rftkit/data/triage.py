"""Learnability triage: which items can teach the model anything.

RL learns from differences between rollouts of the same item. An item the baseline model always
fails (every reward 0) or always solves (every reward 1) gives every rollout the same reward, so
its advantage is zero and it only costs compute (docs/hosted-api.md §3.4). Given k baseline rewards
per item, ``triage`` marks each item ``always_0``, ``always_1``, ``constant`` (all rewards equal
somewhere in between, e.g. partial credit), ``learnable``, or ``unscored`` (fewer than two rewards:
one rollout cannot show whether the outcome varies); ``filter_learnable`` keeps the lines worth
training on. The names match ``rftkit.evaluation.baseline``'s buckets; notebook 04 feeds it real
baseline rollouts (``Baseline.rewards_by_item()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

VERDICTS = ("always_0", "always_1", "constant", "learnable", "unscored")


def triage(
    rewards_by_item: Mapping[str, Sequence[float]],
    *,
    low: float = 0.0,
    high: float = 1.0,
    tolerance: float = 1e-9,
) -> pd.DataFrame:
    """One row per item: ``item, k, mean, std, min, max, verdict``, in the input's order.

    ``low``/``high`` are the grader's worst and best reward. Spread is the population standard
    deviation (``ddof=0``); an item with fewer than two rewards is ``unscored``.
    """
    import numpy as np  # imported when used: rftkit.data binds this function at import time
    import pandas as pd

    rows = []
    for item, rewards in rewards_by_item.items():
        values = np.asarray(list(rewards), dtype=float)
        if np.isnan(values).any():
            raise ValueError(f"item {item!r} has a NaN reward; pass scored rewards only")
        if len(values) < 2:
            verdict = "unscored"
        elif values.max() <= low + tolerance:
            verdict = "always_0"
        elif values.min() >= high - tolerance:
            verdict = "always_1"
        elif values.max() - values.min() <= tolerance:
            verdict = "constant"
        else:
            verdict = "learnable"
        rows.append(
            {
                "item": item,
                "k": len(values),
                "mean": values.mean() if len(values) else np.nan,
                "std": values.std() if len(values) else np.nan,
                "min": values.min() if len(values) else np.nan,
                "max": values.max() if len(values) else np.nan,
                "verdict": verdict,
            }
        )
    frame = pd.DataFrame(rows, columns=["item", "k", "mean", "std", "min", "max", "verdict"])
    frame["verdict"] = pd.Categorical(frame["verdict"], categories=VERDICTS)
    return frame


def filter_learnable(
    lines: Iterable[Mapping[str, Any]],
    triage_frame: pd.DataFrame,
    *,
    key: str = "task_id",
    keep: Sequence[str] = ("learnable",),
) -> list[Mapping[str, Any]]:
    """The lines whose item's verdict is in ``keep``, in their original order.

    Every line must have been triaged: a line missing from the frame is an error, never a silent
    drop.
    """
    unknown = set(keep) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; choose from {', '.join(VERDICTS)}")
    verdicts = dict(zip(triage_frame["item"], triage_frame["verdict"], strict=True))
    lines = list(lines)
    untriaged = [str(line.get(key)) for line in lines if line.get(key) not in verdicts]
    if untriaged:
        shown = ", ".join(untriaged[:5]) + (" ..." if len(untriaged) > 5 else "")
        raise ValueError(f"{len(untriaged)} line(s) have no triage verdict: {shown}")
    return [line for line in lines if verdicts[line[key]] in keep]
