"""Metrics events (``fine_tuning.job.event`` with ``type == "metrics"``) into tidy frames.

Every backend — OpenAI's, Azure's, the local engine — reports progress in the RFT metrics layout
(docs/hosted-api.md §6.3), so one reader serves them all. Events may be SDK objects, dicts or a
JSONL file; keys a backend does not report are simply absent columns, never invented zeros.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rftkit.data.jsonl import load_jsonl

STEP_COLUMNS = {
    "train_reward_mean": ("scores.train_reward_mean", "train_mean_reward"),
    "valid_reward_mean": ("scores.valid_reward_mean", "full_valid_mean_reward"),
}
SE_COLUMNS = {"train_reward_se": "train_reward_se", "valid_reward_se": "full_valid_reward_se"}
"""Standard errors over lines, which only the local engine reports (hosted events carry means):
column -> the event's key. Absent from the frame when no event has them."""


def load_events(source: str | Path | Iterable[Any]) -> list[dict[str, Any]]:
    """Events as plain dicts, from a JSONL path or an iterable of dicts / SDK event objects."""
    if isinstance(source, str | Path):
        return load_jsonl(source)
    return [e.model_dump() if hasattr(e, "model_dump") else dict(e) for e in source]


def _metrics_data(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = [dict(e["data"]) for e in events if e.get("type") == "metrics" and e.get("data")]
    return sorted(rows, key=lambda d: d.get("step", 0))


def metrics_frame(events: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per step; nested metrics flattened to dotted columns, graders left to grader_frame.

    ``train_reward_mean`` and ``valid_reward_mean`` are filled from whichever of the documented
    spellings the backend used.
    """
    rows = [
        {**d, "scores": {k: v for k, v in d["scores"].items() if k != "graders"}}
        if isinstance(d.get("scores"), dict)
        else d
        for d in _metrics_data(events)
    ]
    if not rows:
        return pd.DataFrame(columns=["step", *STEP_COLUMNS])
    frame = pd.json_normalize(rows, sep=".")
    for name, spellings in STEP_COLUMNS.items():
        present = [s for s in spellings if s in frame.columns]
        values = frame[present].bfill(axis=1).iloc[:, 0] if present else float("nan")
        frame[name] = pd.to_numeric(values, errors="coerce")  # None (a step without it) -> NaN
    for name, key in SE_COLUMNS.items():
        if key in frame.columns:
            frame[name] = pd.to_numeric(frame[key], errors="coerce")
    return frame.set_index("step", drop=False).rename_axis(None)


def grader_frame(events: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Per-grader rewards, long format: step, grader, split ('train'/'valid'), reward_mean, and
    reward_se (the standard error over lines; NaN where the backend reports none)."""
    records = []
    for data in _metrics_data(events):
        for grader in (data.get("scores") or {}).get("graders", []) or []:
            for split in ("train", "valid"):
                value = grader.get(f"{split}_reward_mean")
                if value is not None:
                    se = grader.get(f"{split}_reward_se")
                    records.append(
                        {
                            "step": data.get("step"),
                            "grader": grader.get("name"),
                            "split": split,
                            "reward_mean": value,
                            "reward_se": float("nan") if se is None else se,
                        }
                    )
    columns = ["step", "grader", "split", "reward_mean", "reward_se"]
    return pd.DataFrame.from_records(records, columns=columns)
