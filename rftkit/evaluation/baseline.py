"""Baseline evaluation: run a policy k times per item, measure the spread, sort items by what RL
can learn from them.

OpenAI's advice before any RFT job: sample the base model several times per item, look at the
variance, keep the items it sometimes gets right, and check the endpoints hold. RL learns from
differences between rollouts of one item, so an item whose k rewards are all equal teaches nothing:

- ``always_0``: every scored reward at the grader's floor (``low``): nothing to learn from yet;
- ``always_1``: every scored reward at the ceiling (``high``): nothing left to gain;
- ``constant``: all equal somewhere in between (e.g. the same partial credit every time);
- ``learnable``: the rewards differ: this is where training has signal;
- ``unscored``: fewer than two scored rollouts (discards, timeouts): fix the endpoints first.

The verdict names match ``rftkit.data.triage``; :meth:`Baseline.rewards_by_item` is its input.
Spread is the population standard deviation over the k scored rewards (``ddof=0``), as there.
``pass@k`` is the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)`` for ``c``
passes (reward >= ``pass_threshold``) among ``n`` scored rollouts. Discarded and timed-out rollouts
are counted, never scored as 0.

Example::

    baseline = run_baseline_sync(items, policy, tools=job_tools, grader=course_grader(), k=4)
    baseline.summary()            # one table of the run
    baseline.plot_variance()      # per-item mean ± std
    train_items = baseline.select(items)          # the learnable lines
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rftkit.protocol import JobTool, Trace
from rftkit.rollouts import Grader, Policy, run_rollouts, traces_frame
from rftkit.rollouts.engine import item_id_of, run_blocking

BUCKETS = ("always_0", "always_1", "constant", "learnable", "unscored")
BUCKET_COLOURS = {
    "always_0": "#c0392b",
    "always_1": "#2e86c1",
    "constant": "#7f8c8d",
    "learnable": "#27ae60",
    "unscored": "#f39c12",
}
ITEM_COLUMNS = [
    "item_id",
    "rollouts",
    "scored",
    "mean",
    "std",
    "min",
    "max",
    "passes",
    "pass_at_1",
    "pass_at_k",
    "bucket",
]
TOLERANCE = 1e-9


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` rollouts drawn from ``n`` (``c`` passing) passes."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    return 1.0 - comb(n - c, k) / comb(n, k)


def bucket_of(rewards: Sequence[float], *, low: float = 0.0, high: float = 1.0) -> str:
    """The learnability verdict for one item's scored rewards (see the module docstring)."""
    if len(rewards) < 2:
        return "unscored"
    if max(rewards) <= low + TOLERANCE:
        return "always_0"
    if min(rewards) >= high - TOLERANCE:
        return "always_1"
    if max(rewards) - min(rewards) <= TOLERANCE:
        return "constant"
    return "learnable"


def item_stats(
    rollouts: pd.DataFrame,
    *,
    k: int,
    low: float = 0.0,
    high: float = 1.0,
    pass_threshold: float = 1.0,
) -> pd.DataFrame:
    """One row per item (``ITEM_COLUMNS``) from a :func:`traces_frame`, in first-seen order."""
    rows = []
    for item_id, group in rollouts.groupby("item_id", sort=False):
        rewards = group["reward"].dropna().to_numpy(dtype=float)
        n, passes = len(rewards), int((rewards >= pass_threshold - TOLERANCE).sum())
        rows.append(
            {
                "item_id": item_id,
                "rollouts": len(group),
                "scored": n,
                "mean": rewards.mean() if n else np.nan,
                "std": rewards.std() if n else np.nan,
                "min": rewards.min() if n else np.nan,
                "max": rewards.max() if n else np.nan,
                "passes": passes,
                "pass_at_1": passes / n if n else np.nan,
                "pass_at_k": pass_at_k(n, passes, min(k, n)) if n else np.nan,
                "bucket": bucket_of(list(rewards), low=low, high=high),
            }
        )
    frame = pd.DataFrame(rows, columns=ITEM_COLUMNS)
    frame["bucket"] = pd.Categorical(frame["bucket"], categories=BUCKETS)
    return frame


@dataclass(frozen=True)
class Baseline:
    """A baseline run: every trace, one row per rollout, one row per item."""

    policy: str
    k: int
    traces: list[Trace]
    rollouts: pd.DataFrame
    per_item: pd.DataFrame

    def buckets(self) -> dict[str, list[str]]:
        """Item ids per learnability bucket (every bucket present, maybe empty)."""
        return {
            name: self.per_item.loc[self.per_item["bucket"] == name, "item_id"].tolist()
            for name in BUCKETS
        }

    def rewards_by_item(self) -> dict[str, list[float]]:
        """Scored rewards per item: the input of ``rftkit.data.triage``."""
        scored = self.rollouts.dropna(subset=["reward"])
        return {str(i): list(g["reward"]) for i, g in scored.groupby("item_id", sort=False)}

    def select(
        self, items: Sequence[Mapping[str, Any]], buckets: Sequence[str] = ("learnable",)
    ) -> list[Mapping[str, Any]]:
        """The dataset lines whose item falls in ``buckets``, in their order; every line must
        have been run (a line missing from the baseline is an error, never a silent drop)."""
        unknown = set(buckets) - set(BUCKETS)
        if unknown:
            raise ValueError(f"unknown buckets {sorted(unknown)}; choose from {', '.join(BUCKETS)}")
        verdicts = dict(zip(self.per_item["item_id"], self.per_item["bucket"], strict=True))
        ids = [item_id_of(line, index) for index, line in enumerate(items)]
        missing = [i for i in ids if i not in verdicts]
        if missing:
            raise ValueError(f"{len(missing)} line(s) not in this baseline, e.g. {missing[0]!r}")
        return [line for line, i in zip(items, ids, strict=True) if verdicts[i] in buckets]

    def accuracy(self) -> float:
        """Share of scored rollouts whose answer is right (the grader's ``correct`` sub-reward,
        else reward 1). Read it beside pass@1: with a process term in the reward, a pass needs
        the right answer *and* the process the grader pays in full."""
        scored = self.rollouts.dropna(subset=["reward"])
        return float(scored["correct"].astype(bool).mean()) if len(scored) else math.nan

    def answer_spread(self) -> pd.DataFrame:
        """Per item: ``bucket``, ``right`` (share of scored rollouts answered right) and
        ``only_process``: a learnable item whose answers were all right or all wrong, so its
        rewards differ only by the process terms (efficiency, evidence), never by the answer."""
        scored = self.rollouts.dropna(subset=["reward"])
        right = scored.groupby("item_id", sort=False)["correct"].apply(
            lambda c: float(c.astype(bool).mean())
        )
        frame = self.per_item[["item_id", "bucket"]].copy()
        frame["right"] = frame["item_id"].map(right)
        learnable = frame["bucket"] == "learnable"
        frame["only_process"] = learnable & frame["right"].isin((0.0, 1.0))
        return frame

    def latency(self) -> pd.DataFrame:
        """Median and 95th percentile (s) over every rollout of its wall time, the time its tool
        calls took, and the rest: the model's turns and any wait between them (queueing)."""
        r = self.rollouts
        parts = {
            "rollout": r["latency_s"],
            "tool calls": r["tool_latency_s"],
            "model and waiting": r["latency_s"] - r["tool_latency_s"],
        }
        return pd.DataFrame(
            {
                name: {"p50 (s)": part.median(), "p95 (s)": part.quantile(0.95)}
                for name, part in parts.items()
            }
        ).T

    def summary(self, timings: bool = True) -> pd.DataFrame:
        """The run in one table (``metric``, ``value``): rewards, buckets, calls, tokens and, with
        ``timings``, latency (leave it out where output must be reproducible)."""
        r, items = self.rollouts, self.per_item
        scored = r["reward"].notna()
        counts = items["bucket"].value_counts()
        rows: list[tuple[str, Any]] = [
            ("policy", self.policy),
            ("items", len(items)),
            ("rollouts per item (k)", self.k),
            ("rollouts", len(r)),
            ("scored", int(scored.sum())),
            ("discarded", int((r["status"] == "discarded").sum())),
            ("timed out", int((r["status"] == "timeout").sum())),
            ("hit max_episode_steps", int((r["status"] == "max_steps").sum())),
            ("mean reward", _round(r.loc[scored, "reward"].mean())),
            ("mean per-item std", _round(items["std"].mean())),
            ("pass@1", _round(items["pass_at_1"].mean())),
            (f"pass@{self.k}", _round(items["pass_at_k"].mean())),
            *((f"items {name}", int(counts.get(name, 0))) for name in BUCKETS),
            ("tool calls per rollout", _round(r["tool_calls"].mean())),
            ("tool errors per rollout", _round(r["tool_errors"].mean())),
            ("input tokens per rollout", _round(r["input_tokens"].mean(), 1)),
            ("output tokens per rollout", _round(r["output_tokens"].mean(), 1)),
            ("reasoning tokens per rollout", _round(r["reasoning_tokens"].mean(), 1)),
        ]
        if timings:
            rows += [
                ("latency p50 (s)", _round(r["latency_s"].median())),
                ("latency p95 (s)", _round(r["latency_s"].quantile(0.95))),
            ]
        return pd.DataFrame(rows, columns=["metric", "value"]).set_index("metric")

    def outlook(self, *, min_learnable: float = 0.1, saturated: float = 0.95) -> str:
        """What the numbers say about RFT on this data, by OpenAI's task-selection rules: the
        policy must sometimes succeed (non-zero baseline), leave headroom, and enough items must
        vary between rollouts to give the trainer signal."""
        items = self.per_item
        scored = items["scored"] >= 2
        mean = float(self.rollouts["reward"].mean())
        solved = float((items.loc[scored, "max"] > 0).mean()) if scored.any() else 0.0
        learnable = float((items["bucket"] == "learnable").mean())
        facts = (
            f"mean reward {mean:.3f} (headroom {1 - mean:.3f}); {solved:.0%} of items solved at "
            f"least once in {self.k}; {learnable:.0%} learnable"
        )
        if not scored.any():
            return f"No item has two scored rollouts: fix the endpoints first. ({facts})"
        if solved == 0:
            verdict = "RFT has nothing to reinforce: the policy never succeeds. Make the tasks or "
            verdict += "tools easier, or start from a stronger model."
        elif mean >= saturated:
            verdict = "Little headroom: the policy already succeeds almost always."
        elif learnable < min_learnable:
            verdict = "Too few items vary between rollouts: most would teach the trainer nothing."
        else:
            verdict = "RFT can help: a non-zero baseline, headroom, and items with signal."
        return f"{verdict} ({facts})"

    def plot_variance(self, ax: plt.Axes | None = None) -> Figure:
        """Per-item mean reward ± std, items sorted by mean, coloured by bucket."""
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6.0, 0.18 * len(self.per_item)), 3.5))
        ordered = self.per_item.sort_values(["mean", "item_id"], kind="stable")
        for name, group in ordered.groupby("bucket", observed=True, sort=False):
            positions = [ordered.index.get_loc(i) for i in group.index]
            # ± std, cut at the item's lowest and highest reward: 0.1 ± 0.3 never went below 0
            low = (group["mean"] - group["std"]).clip(lower=group["min"])
            high = (group["mean"] + group["std"]).clip(upper=group["max"])
            ax.errorbar(
                positions,
                group["mean"],
                yerr=[group["mean"] - low, high - group["mean"]],
                fmt="o",
                ms=4,
                capsize=2,
                color=BUCKET_COLOURS[name],
                label=f"{name} ({len(group)})",
            )
        ax.set_xticks(range(len(ordered)), ordered["item_id"], rotation=90, fontsize=6)
        ax.set_ylabel(f"reward, mean ± std over k={self.k}\n(bars cut at the item's min and max)")
        ax.set_xlabel("item (sorted by mean reward)")
        ax.set_title(f"Baseline variance: {self.policy}")
        ax.legend(fontsize=7, loc="best")
        ax.figure.tight_layout()
        return ax.figure


def _round(value: float, digits: int = 3) -> float:
    return round(float(value), digits) if pd.notna(value) else float("nan")


def baseline_from_traces(
    traces: Sequence[Trace],
    *,
    low: float = 0.0,
    high: float = 1.0,
    pass_threshold: float = 1.0,
) -> Baseline:
    """Summarise traces already run (e.g. loaded with ``load_traces``); one policy per baseline."""
    policies = sorted({t.policy for t in traces})
    if len(policies) != 1:
        raise ValueError(f"a baseline covers exactly one policy, these traces have {policies}")
    rollouts = traces_frame(traces)
    k = int(rollouts.groupby("item_id", sort=False).size().max())
    per_item = item_stats(rollouts, k=k, low=low, high=high, pass_threshold=pass_threshold)
    return Baseline(policies[0], k, list(traces), rollouts, per_item)


async def run_baseline(
    items: Sequence[dict[str, Any]],
    policy: Policy,
    *,
    tools: Sequence[JobTool | Mapping[str, Any]],
    grader: Grader,
    k: int = 4,
    low: float = 0.0,
    high: float = 1.0,
    pass_threshold: float = 1.0,
    **rollout_options: Any,
) -> Baseline:
    """Run every item ``k`` times with :func:`run_rollouts` and summarise."""
    if k < 2:
        raise ValueError(f"a baseline needs k >= 2 rollouts per item to show variance, got {k}")
    traces = await run_rollouts(
        items, policy, tools=tools, grader=grader, repeats=k, **rollout_options
    )
    return baseline_from_traces(traces, low=low, high=high, pass_threshold=pass_threshold)


def run_baseline_sync(items: Sequence[dict[str, Any]], policy: Policy, **options: Any) -> Baseline:
    """:func:`run_baseline` from synchronous code, including a notebook whose loop is running."""
    return run_blocking(run_baseline(items, policy, **options))
