"""The tool-use patterns Agent RFT is known to teach, measured on traces: parallel calls, stopping
once the evidence is read, and which tools each kind of task uses.

A *turn* is one generation span; the calls of a turn are its ``tool_calls``. Whether the evidence
has been read is a rule of the task, so it is a parameter (:data:`EvidenceRule`); the default,
:func:`evidence_files_read`, counts every path in the line's ``evidence`` opened by a successful
call of one tool, whose name and argument are parameters (``read_file`` and ``path`` by default,
the course's: ``functools.partial(evidence_files_read, tool="open_doc", argument="doc_id")`` for
a project whose documents open otherwise).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rftkit._util.jsonsafe import loads
from rftkit.protocol import FunctionSpanData, GenerationSpanData, Trace

NOT_A_TOOL = "(not a tool)"
"""The column of ``tool_choice`` (and of the per-tool plot) for calls to names that are no tool."""

EvidenceRule = Callable[[Sequence[FunctionSpanData], Mapping[str, Any]], bool]
"""``rule(calls_so_far, item)``: has the rollout read what it needs to answer ``item``?"""

PATTERN_COLUMNS = [
    "trace_id", "item_id", "task_type", "turns", "tool_turns", "tool_calls", "parallel_turns",
    "evidence_read", "calls_after_evidence", "reasoning_tokens", "tools", "reward",
]  # fmt: skip


def _read_path(call: FunctionSpanData, tool: str, argument: str) -> str | None:
    """The ``argument`` of a successful ``tool`` call, else None (also for arguments a
    hand-edited trace file made unreadable: too deep, too large, not JSON)."""
    if call.name != tool or call.status_code != 200:
        return None
    try:
        arguments = loads(call.input)
    except ValueError:
        return None
    path = arguments.get(argument) if isinstance(arguments, dict) else None
    return path if isinstance(path, str) else None


def evidence_files_read(
    calls: Sequence[FunctionSpanData],
    item: Mapping[str, Any],
    *,
    tool: str = "read_file",
    argument: str = "path",
) -> bool:
    """True once every path of ``item["evidence"]`` was opened by a ``tool`` call answering 200
    (the path in its ``argument``).

    An item without evidence paths never counts as read (there is nothing to measure against).
    """
    evidence = set(item.get("evidence") or ())
    return bool(evidence) and evidence <= {_read_path(c, tool, argument) for c in calls}


def _calls_after_evidence(
    calls: Sequence[FunctionSpanData], item: Mapping[str, Any], rule: EvidenceRule
) -> int | None:
    """Calls made after the first call at which ``rule`` holds; None if it never holds."""
    for index in range(1, len(calls) + 1):
        if rule(calls[:index], item):
            return len(calls) - index
    return None


def rollout_patterns(
    traces: Iterable[Trace],
    items: Mapping[str, Mapping[str, Any]],
    evidence_rule: EvidenceRule = evidence_files_read,
) -> pd.DataFrame:
    """One row per rollout (columns ``PATTERN_COLUMNS``).

    ``items`` maps item ids to dataset lines (for ``task_type`` and the evidence rule); a trace
    whose item is not there raises, naming it, rather than being measured against nothing.
    ``tool_calls`` counts the calls the model asked for (a rollout cut off at
    ``max_episode_steps`` never runs its last ones); ``calls_after_evidence`` counts calls run after
    the evidence was read, and is empty for a rollout that never read it; ``reasoning_tokens``
    sums what the turns' usage reports as reasoning (0 for a model that reports none); ``tools``
    is the tuple of tools run, in first-call order (``("search", "read_file")``); ``reward`` is
    the trace's (empty when it was not scored).
    """
    rows = []
    for trace in traces:
        if trace.item_id not in items:
            raise KeyError(f"trace {trace.trace_id}: item {trace.item_id!r} is not in `items`")
        item = items[trace.item_id]
        turns = [s.span_data for s in trace.spans if isinstance(s.span_data, GenerationSpanData)]
        calls = [s.span_data for s in trace.spans if isinstance(s.span_data, FunctionSpanData)]
        after = _calls_after_evidence(calls, item, evidence_rule)
        rows.append(
            {
                "trace_id": trace.trace_id,
                "item_id": trace.item_id,
                "task_type": item.get("task_type"),
                "turns": len(turns),
                "tool_turns": sum(bool(t.tool_calls) for t in turns),
                "tool_calls": sum(len(t.tool_calls) for t in turns),
                "parallel_turns": sum(len(t.tool_calls) >= 2 for t in turns),
                "evidence_read": after is not None,
                "calls_after_evidence": after,
                "reasoning_tokens": sum(t.usage.reasoning_tokens for t in turns),
                "tools": tuple(dict.fromkeys(call.name for call in calls)),
                "reward": trace.reward,
            }
        )
    frame = pd.DataFrame(rows, columns=PATTERN_COLUMNS)
    return frame.astype({"calls_after_evidence": "float64"})


_SUMS = ["rollouts", "turns", "tool_turns", "tool_calls", "parallel_turns", "evidence_read",
         "after_sum", "reasoning_tokens"]  # fmt: skip
_RATIOS = {  # each figure as (numerator, denominator) of sums over rollouts
    "turns per rollout": ("turns", "rollouts"),
    "calls per tool turn": ("tool_calls", "tool_turns"),
    "share of tool turns with 2+ calls": ("parallel_turns", "tool_turns"),
    "share of rollouts that read the evidence": ("evidence_read", "rollouts"),
    "calls after the evidence was read": ("after_sum", "evidence_read"),
    "reasoning tokens per rollout": ("reasoning_tokens", "rollouts"),
}


def _item_sums(patterns: pd.DataFrame) -> pd.DataFrame:
    """Per item, the sums every figure is a ratio of (``after_sum``: calls after the evidence,
    over the rollouts that read it)."""
    frame = patterns.assign(
        rollouts=1,
        evidence_read=patterns["evidence_read"].astype(int),
        after_sum=patterns["calls_after_evidence"].fillna(0.0),
    )
    return frame.groupby("item_id")[_SUMS].sum().astype(float)


def pattern_summary(patterns: pd.DataFrame) -> pd.Series:
    """A run's patterns as figures: ratios pooled over all its turns, means over its rollouts
    (NaN where a figure has nothing to count, e.g. calls per tool turn with no tool turn)."""
    sums = _item_sums(patterns).sum()
    figures = {row: sums[num] / sums[den] if sums[den] else np.nan
               for row, (num, den) in _RATIOS.items()}  # fmt: skip
    return pd.Series({"rollouts": len(patterns), **figures})


def compare_patterns(
    before: pd.DataFrame, after: pd.DataFrame, *, resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """``pattern_summary`` of two runs side by side, the change, and the change's standard error.

    The standard error is a paired bootstrap over the items both runs rolled out: draw items with
    replacement, recompute both runs' figures on the same draw, take the spread of the change.
    Items, not rollouts, because one item's rollouts share its difficulty; a bootstrap because
    the pooled ratios (calls per tool turn) have no simple paired formula. Seeded: the table
    repeats. Hand-written rather than ``scipy.stats.bootstrap``, which resamples arrays, not the
    grouped sums these figures are ratios of."""
    table = pd.DataFrame({"before": pattern_summary(before), "after": pattern_summary(after)})
    table["change"] = table["after"] - table["before"]
    table["change SE"] = _paired_bootstrap_se(before, after, resamples, seed)
    return table


def _paired_bootstrap_se(
    before: pd.DataFrame, after: pd.DataFrame, resamples: int, seed: int
) -> pd.Series:
    b, a = _item_sums(before), _item_sums(after)
    items = b.index.intersection(a.index)
    if len(items) < 2:
        return pd.Series(np.nan, index=["rollouts", *_RATIOS])
    b, a = b.loc[items].to_numpy(), a.loc[items].to_numpy()
    draws = np.random.default_rng(seed).multinomial(
        len(items), np.full(len(items), 1 / len(items)), size=resamples
    )  # each row: how often each item was drawn
    sb, sa = draws @ b, draws @ a  # resamples x sums
    column = {name: n for n, name in enumerate(_SUMS)}
    errors = {"rollouts": np.nan}
    with np.errstate(divide="ignore", invalid="ignore"):
        for row, (num, den) in _RATIOS.items():
            i, j = column[num], column[den]
            change = sa[:, i] / sa[:, j] - sb[:, i] / sb[:, j]
            errors[row] = float(np.nanstd(change, ddof=1))
    return pd.Series(errors)


def tool_choice(
    traces: Iterable[Trace],
    items: Mapping[str, Mapping[str, Any]],
    tools: Collection[str] | None = None,
) -> pd.DataFrame:
    """Calls of each tool per ``task_type`` (rows task types, columns tools).

    With ``tools`` given, calls to other names (a garbled tool name) share one column,
    ``(not a tool)``.
    """
    counts: dict[str, Counter[str]] = {}
    for trace in traces:
        if trace.item_id not in items:
            raise KeyError(f"trace {trace.trace_id}: item {trace.item_id!r} is not in `items`")
        task_type = str(items[trace.item_id].get("task_type"))
        row = counts.setdefault(task_type, Counter())
        for span in trace.spans:
            if not isinstance(span.span_data, FunctionSpanData):
                continue
            name = span.span_data.name
            row[name if tools is None or name in tools else NOT_A_TOOL] += 1
    frame = pd.DataFrame.from_dict(counts, orient="index").fillna(0).astype(int)
    return frame.sort_index().reindex(sorted(frame.columns), axis=1)


PATTERN_EXAMPLES = {
    "parallel calls": ("parallel_turns", "more"),
    "early stop": ("calls_after_evidence", "fewer"),
    "shorter reasoning": ("reasoning_tokens", "fewer"),
    "fewer turns": ("turns", "fewer"),
}
"""Each pattern's ``rollout_patterns`` column and the direction training should move it."""


def pattern_examples(
    before: pd.DataFrame,
    after: pd.DataFrame,
    tools: Collection[str] | None = None,
    floor: float = 0.0,
) -> pd.DataFrame:
    """For each pattern, the item of both runs whose rollouts changed most in its direction.

    Per item, a column's mean over the item's rollouts before and after; the example is the item
    with the largest move the right way (``item_id`` empty when no item moved that way), and
    ``trace_before`` / ``trace_after`` are its rollouts that show the change best. Items and
    rollouts whose trained rollout scored above ``floor`` come first: speed on a wrong answer
    teaches nothing (with a reward that halves an unsupported right answer, a floor of 0.5 also
    keeps out the right answers the figures read do not support). A tool switch
    is the item whose set of tools changed most (tools dropped plus tools taken up; with ``tools``
    given, calls to other names, a garbled tool name, do not count as a switch). Read them
    side by side (``rftkit.analysis.traces.side_by_side``): one item is an illustration, the
    run's means (``compare_patterns``) are the evidence.
    """
    rows = {}
    for pattern, (column, direction) in PATTERN_EXAMPLES.items():
        means = pd.DataFrame(
            {"before": before.groupby("item_id")[column].mean(),
             "after": after.groupby("item_id")[column].mean()}
        ).dropna()  # fmt: skip
        sign = 1 if direction == "more" else -1
        moved = _prefer_rewarded(sign * (means["after"] - means["before"]), after, floor)
        item = moved.idxmax() if len(moved) and moved.max() > 0 else None
        row = means.loc[item] if item is not None else None
        rows[pattern] = {
            "item_id": item,
            "measure": f"{column} (mean per rollout)",
            "before": None if row is None else round(float(row["before"]), 2),
            "after": None if row is None else round(float(row["after"]), 2),
            "trace_before": _extreme(before, item, column, -sign),
            "trace_after": _extreme(_rewarded(after, floor), item, column, sign)
            or _extreme(after, item, column, sign),
        }
    def used_tools(runs: pd.Series) -> set[str]:
        return {n for names in runs for n in names if tools is None or n in tools}

    used = {
        name: frame.groupby("item_id")["tools"].agg(used_tools)
        for name, frame in (("before", before), ("after", after))
    }
    both = used["before"].index.intersection(used["after"].index)
    switched = pd.Series({i: len(used["before"][i] ^ used["after"][i]) for i in both}, dtype=int)
    switched = _prefer_rewarded(switched, after, floor)
    item = switched.idxmax() if len(switched) and switched.max() > 0 else None
    rows["tool switch"] = {
        "item_id": item,
        "measure": "tools used",
        "before": " ".join(sorted(used["before"][item])) if item else None,
        "after": " ".join(sorted(used["after"][item])) if item else None,
        "trace_before": _first(before, item),
        "trace_after": _first(_rewarded(after, floor), item) or _first(after, item),
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def _rewarded(frame: pd.DataFrame, floor: float = 0.0) -> pd.DataFrame:
    return frame[frame["reward"].fillna(0) > floor]


def _prefer_rewarded(moved: pd.Series, after: pd.DataFrame, floor: float = 0.0) -> pd.Series:
    """``moved`` cut to the items with a trained rollout above ``floor``, when one of them moved."""
    rewarded = moved[moved.index.isin(_rewarded(after, floor)["item_id"])]
    return rewarded if len(rewarded) and rewarded.max() > 0 else moved


def _extreme(frame: pd.DataFrame, item_id: str | None, column: str, sign: int) -> str | None:
    """The item's rollout with the largest (``sign`` 1) or smallest (-1) ``column``."""
    if item_id is None:
        return None
    rows = frame[frame["item_id"] == item_id].dropna(subset=[column])
    values = sign * rows[column]
    return None if rows.empty else str(rows.loc[values.idxmax(), "trace_id"])


def _first(frame: pd.DataFrame, item_id: str | None) -> str | None:
    rows = frame[frame["item_id"] == item_id]
    return None if item_id is None or rows.empty else str(rows["trace_id"].iloc[0])
