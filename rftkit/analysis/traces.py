"""Comparisons over rollout frames (``rftkit.rollouts.traces_frame``): per item, loops, regressions.

Discarded rollouts (a tool kept failing with 5xx) keep their row, with no reward: they count in
error rates and never in reward means, exactly as the trainer treats them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd

from rftkit.protocol import FunctionSpanData, GenerationSpanData, Trace

TIE_TOLERANCE = 1e-9
"""Changes smaller than this count as none: means of the same rewards can differ in the last bit."""

CHANGE_CLASSES = {
    # (sign of Δreward, sign of Δtool calls) -> class; 0 is a tie, never a gain
    (1, -1): "better & cheaper",
    (1, 0): "better, same calls",
    (1, 1): "better, more calls",
    (0, -1): "same reward, fewer calls",
    (0, 0): "unchanged",
    (0, 1): "same reward, more calls",
    (-1, -1): "worse, fewer calls",
    (-1, 0): "worse, same calls",
    (-1, 1): "worse & more calls",
}


def tool_counts(rollouts: pd.DataFrame) -> pd.DataFrame:
    """Calls per rollout of each tool (columns are tool names), indexed like ``rollouts``."""
    counts = [Counter(seq) for seq in rollouts["tool_sequence"]]
    return pd.DataFrame.from_records(counts, index=rollouts.index).fillna(0).astype(int)


def tool_bigrams(rollouts: pd.DataFrame) -> pd.DataFrame:
    """Consecutive tool-call pairs and how often they occur; ``repeat`` marks loops (a→a)."""
    pairs = Counter(
        pair for seq in rollouts["tool_sequence"] for pair in zip(seq, seq[1:], strict=False)
    )
    frame = pd.DataFrame(
        [{"first": a, "then": b, "count": n, "repeat": a == b} for (a, b), n in pairs.items()],
        columns=["first", "then", "count", "repeat"],
    )
    return frame.sort_values(["count", "first", "then"], ascending=[False, True, True]).reset_index(
        drop=True
    )


def per_item(rollouts: pd.DataFrame) -> pd.DataFrame:
    """Mean reward, accuracy and tool calls per item over its scored rollouts."""
    scored = rollouts[rollouts["reward"].notna()]
    return scored.groupby("item_id").agg(
        reward=("reward", "mean"),
        accuracy=("correct", "mean"),
        tool_calls=("tool_calls", "mean"),
        rollouts=("reward", "size"),
    )


def change_sign(delta: float) -> int:
    """1, 0 or -1; a change within ``TIE_TOLERANCE`` is 0."""
    return 0 if abs(delta) <= TIE_TOLERANCE else (1 if delta > 0 else -1)


def change_class(delta_reward: float, delta_tool_calls: float) -> str:
    """The class in ``CHANGE_CLASSES``: ties get their own, so no change never reads as a gain."""
    return CHANGE_CLASSES[(change_sign(delta_reward), change_sign(delta_tool_calls))]


def compare_runs(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per item: reward and tool calls before and after, their deltas, and the change class.

    The ``quadrant`` column holds one of ``CHANGE_CLASSES``: an item whose reward did not move is
    "same reward, …" or "unchanged", never "better".
    """
    joined = per_item(before).merge(
        per_item(after), left_index=True, right_index=True, suffixes=("_before", "_after")
    )
    joined["delta_reward"] = joined["reward_after"] - joined["reward_before"]
    joined["delta_tool_calls"] = joined["tool_calls_after"] - joined["tool_calls_before"]
    joined["quadrant"] = [
        change_class(dr, dc)
        for dr, dc in zip(joined["delta_reward"], joined["delta_tool_calls"], strict=True)
    ]
    return joined


def regressions(comparison: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` items whose reward fell the most."""
    worse = comparison[comparison["delta_reward"] < -TIE_TOLERANCE]
    return worse.sort_values(["delta_reward", "delta_tool_calls"]).head(n)


def latency_percentiles(
    runs: dict[str, pd.DataFrame], quantiles: Sequence[float] = (0.5, 0.95)
) -> pd.DataFrame:
    """Rollout wall time (``latency_s``, seconds) at ``quantiles`` per run: rows runs, columns
    ``p50``, ``p95``…; discarded rollouts count, their time was spent."""
    return pd.DataFrame(
        {f"p{round(q * 100)}": {n: f["latency_s"].quantile(q) for n, f in runs.items()}
         for q in quantiles}
    )  # fmt: skip


def transcript(trace: Trace, max_chars: int = 160) -> list[str]:
    """A rollout as short lines (calls, outputs, final answer) for side-by-side reading; a turn
    with several calls or a reasoning segment gets a ``[...]`` line before its calls."""
    lines = []
    for span in trace.spans:
        data = span.span_data
        if isinstance(data, GenerationSpanData):
            calls = len(data.tool_calls)
            notes = [f"{calls} calls in one turn"] if calls > 1 else []
            if data.usage.reasoning_tokens:
                notes.append(f"{data.usage.reasoning_tokens} reasoning tokens")
            if notes:
                lines.append(f"[{', '.join(notes)}]")
        if isinstance(data, FunctionSpanData):
            output = (data.output or data.error or "").replace("\n", " ⏎ ")
            lines.append(f"→ {data.name}({data.input})"[:max_chars])
            lines.append(f"  ← {output}"[:max_chars])
    final = trace.sample.output_text if trace.sample else f"[{trace.status}]"
    lines.append(f"answer: {final}"[:max_chars])
    lines.append(f"reward: {trace.reward}")
    return lines


def side_by_side(
    before: Sequence[Trace],
    after: Sequence[Trace],
    item_id: str,
    trace_ids: tuple[str | None, str | None] = (None, None),
) -> pd.DataFrame:
    """A rollout of ``item_id`` from each run, line by line: the first one, or the ones
    ``trace_ids`` names (``pattern_examples`` gives them)."""

    def pick(traces: Sequence[Trace], trace_id: str | None) -> Trace:
        return next(
            t for t in traces if t.item_id == item_id and trace_id in (None, t.trace_id)
        )

    left, right = pick(before, trace_ids[0]), pick(after, trace_ids[1])
    a, b = transcript(left), transcript(right)
    width = max(len(a), len(b))
    return pd.DataFrame(
        {"before": a + [""] * (width - len(a)), "after": b + [""] * (width - len(b))}
    )
