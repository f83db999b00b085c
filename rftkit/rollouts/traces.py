"""Trace records on disk (JSONL, one :class:`rftkit.protocol.Trace` per line) and as DataFrames.

``traces_frame`` has one row per rollout with what summaries need (reward, tool calls, tokens,
latency); ``spans_frame`` one row per span for per-tool latency and errors. A rollout that was not
scored (discarded or timed out) keeps ``reward`` empty (NaN), never 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from rftkit.data.jsonl import read_file_bounded
from rftkit.protocol import Trace

TRACE_COLUMNS = [
    "trace_id", "item_id", "repeat", "policy", "status", "reward", "correct", "tool_calls",
    "tool_errors", "tool_sequence", "turns", "input_tokens", "output_tokens", "reasoning_tokens",
    "latency_s", "tool_latency_s", "output_text", "error",
]  # fmt: skip
SPAN_COLUMNS = [
    "trace_id", "span_id", "type", "name", "started_at", "duration_s", "status_code", "attempts",
    "error",
]  # fmt: skip


def save_traces(traces: Iterable[Trace], path: str | Path) -> Path:
    """Write one JSON object per line (creating parent folders); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for trace in traces:
            out.write(trace.model_dump_json() + "\n")
    return path


def load_traces(path: str | Path) -> list[Trace]:
    """Read traces back; a bad line is reported with its file, line number and field.

    The file is read within ``rftkit.data.jsonl``'s bounds (a regular file of at most 512 MB,
    else ``UnreadableFileError``) and each line by pydantic-core, whose parser stops at 200
    levels of nesting, so a hostile file ends in a ValueError, never a crash.
    """
    traces = []
    for number, line in enumerate(read_file_bounded(path).split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            traces.append(Trace.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "line"
            raise ValueError(f"{path}, line {number}, field {field}: {first['msg']}") from None
    return traces


def is_correct(trace: Trace, correct_key: str = "correct") -> bool | None:
    """Correctness from the grader's sub-reward ``correct_key`` if it has one, else reward == 1."""
    sub_rewards = (trace.grader_result or {}).get("sub_rewards") or {}
    value = sub_rewards.get(correct_key, trace.reward)
    return None if value is None else float(value) >= 1.0


def traces_frame(traces: Iterable[Trace], correct_key: str = "correct") -> pd.DataFrame:
    """One row per rollout (columns ``TRACE_COLUMNS``).

    ``correct`` reads the grader's sub-reward named ``correct_key`` (a multi grader's
    correctness term, as in the course grader) and falls back to ``reward == 1``; it is empty for
    rollouts without a reward. ``tool_sequence`` is the tools called, in order.
    """
    rows = []
    for trace in traces:
        generations = [s.span_data for s in trace.spans if s.span_data.type == "generation"]
        calls = trace.function_spans
        rows.append(
            {
                "trace_id": trace.trace_id,
                "item_id": trace.item_id,
                "repeat": trace.repeat,
                "policy": trace.policy,
                "status": trace.status,
                "reward": trace.reward,
                "correct": is_correct(trace, correct_key),
                "tool_calls": len(calls),
                "tool_errors": sum(s.span_data.error is not None for s in calls),
                "tool_sequence": tuple(s.span_data.name for s in calls),
                "turns": len(generations),
                "input_tokens": sum(g.usage.input_tokens for g in generations),
                "output_tokens": sum(g.usage.output_tokens for g in generations),
                "reasoning_tokens": sum(g.usage.reasoning_tokens for g in generations),
                "latency_s": trace.ended_at - trace.started_at,
                "tool_latency_s": sum(s.duration for s in calls),
                "output_text": trace.sample.output_text if trace.sample else "",
                "error": trace.error,
            }
        )
    frame = pd.DataFrame(rows, columns=TRACE_COLUMNS)
    return frame.astype({"reward": "float64"})


def spans_frame(traces: Iterable[Trace]) -> pd.DataFrame:
    """One row per span (columns ``SPAN_COLUMNS``): generations and tool calls alike."""
    rows = []
    for trace in traces:
        for span in trace.spans:
            data = span.span_data
            is_call = data.type == "function"
            rows.append(
                {
                    "trace_id": trace.trace_id,
                    "span_id": span.span_id,
                    "type": data.type,
                    "name": data.name if is_call else data.model,
                    "started_at": span.started_at,
                    "duration_s": span.duration,
                    "status_code": data.status_code if is_call else None,
                    "attempts": data.attempts if is_call else None,
                    "error": data.error if is_call else None,
                }
            )
    return pd.DataFrame(rows, columns=SPAN_COLUMNS)
