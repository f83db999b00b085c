"""The local training benchmark's committed results, read back: one row per GRPO seed.

``benchmarks/local_training.py --seed N`` writes ``benchmarks/results/local_training.json`` (seed
0) and ``local_training_seed<N>.json``; ``--top-p P`` adds ``_top_p<P>`` to the name, and
``--worlds tuning`` writes under ``results/tuning/``. Notebook 05 and
``benchmarks/local_training_seeds.py`` read them through here, so both show the same figures;
nothing is re-run.

They are the checkout's, not the package's: an installed wheel has no ``benchmarks/``, so there
``load_results`` needs the folder (``directory=``) and says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

RESULTS = Path(__file__).parents[2] / "benchmarks" / "results"
"""Where a checkout keeps them, when the package is imported from one (an installed wheel has no
benchmarks: there this path is outside the package and is never read)."""


def run_of(path: Path) -> tuple[int, float] | None:
    """The GRPO seed and top-p of a results file's name, or None for another file."""
    match = re.fullmatch(r"local_training(?:_seed(\d+))?(?:_top_p(0\.\d+))?\.json", path.name)
    return (int(match.group(1) or 0), float(match.group(2) or 1)) if match else None


def load_results(
    directory: str | Path | None = None, top_p: float = 1.0
) -> dict[int, dict[str, Any]]:
    """Every seed's results in ``directory`` (default: the checkout's ``benchmarks/results``)
    sampled at ``top_p``, by seed."""
    if directory is None:
        if not (RESULTS.parents[1] / "pyproject.toml").is_file():
            raise FileNotFoundError(
                "the local training results live in a checkout's benchmarks/results, and this "
                "rftkit is installed, not a checkout: pass load_results(directory=...)"
            )
        directory = RESULTS
    runs = {}
    for path in Path(directory).glob("local_training*.json"):
        run = run_of(path)
        if run is not None and run[1] == top_p:
            runs[run[0]] = json.loads(path.read_text(encoding="utf-8"))
    return dict(sorted(runs.items()))


def _change(base: dict, trained: dict, key: str) -> str:
    """``before -> after (-x%)`` for a per-rollout mean; n/a for a run that did not record it."""
    before, after = base.get(key), trained.get(key)
    if before is None or after is None:
        return "n/a"
    relative = f" ({after / before - 1:+.0%})" if before else ""
    return f"{before:.2f} -> {after:.2f}{relative}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def job_minutes(events: list[dict[str, Any]]) -> float:
    """Wall minutes of a local job, from its first event to its last (``created_at`` is whole
    seconds): triage, the step-0 validation and every step."""
    stamps = [event["created_at"] for event in events]
    return (max(stamps) - min(stamps)) / 60


def seeds_table(runs: dict[int, dict[str, Any]]) -> pd.DataFrame:
    """One row per GRPO seed: the reward it trained on, the course-reward gain on held-out tasks
    in paired standard errors, accuracy, the Agent RFT patterns before -> after, cost."""
    rows = {}
    for seed, run in runs.items():
        base, trained = run["base"], run["trained"]
        hops = [r.get("accuracy_by_type", {}).get("multi_hop") for r in (base, trained)]
        shares = run.get("parallel_turn_share_independent", {})
        rows[seed] = {
            "reward": run.get("reward", "course"),
            "course-reward gain": f"{run['reward_gain'] / run['reward_gain_se']:+.1f} SE",
            "accuracy": f"{base['accuracy']:.1%} -> {trained['accuracy']:.1%}",
            "tool calls / rollout": _change(base, trained, "tool_calls_mean"),
            "turns / rollout": _change(base, trained, "turns_mean"),
            "reasoning tokens / rollout": _change(base, trained, "reasoning_tokens_mean"),
            "parallel share (independent types)": (
                f"{_percent(shares.get('base'))} -> {_percent(shares.get('trained'))}"
            ),
            "multi-hop accuracy": f"{_percent(hops[0])} -> {_percent(hops[1])}",
            "GRPO CPU-min": f"{run['grpo_cpu_seconds'] / 60:.2f}",
            "GRPO wall-min": f"{job_minutes(run['events']['main']):.2f}",
            "peak RSS": f"{run['peak_rss_gb']:.2f} GB",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("GRPO seed")


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub markdown table, its index as the first column (pandas'
    ``to_markdown`` needs ``tabulate``, a dependency for one table)."""
    header = [frame.index.name or "", *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for index, row in frame.iterrows():
        lines.append("| " + " | ".join([str(index), *map(str, row)]) + " |")
    return "\n".join(lines)
