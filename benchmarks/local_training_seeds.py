"""The committed local-training results of every GRPO seed side by side (prints a table).

    python benchmarks/local_training_seeds.py

Reads ``results/local_training.json`` (seed 0) and ``results/local_training_seed<N>.json``, each
written by ``benchmarks/local_training.py --seed N``; nothing is re-run here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def seed_of(path: Path) -> int:
    match = re.fullmatch(r"local_training(?:_seed(\d+))?\.json", path.name)
    return int(match.group(1) or 0) if match else -1


def main() -> None:
    found = [p for p in RESULTS.glob("local_training*.json") if seed_of(p) >= 0]
    paths = sorted(found, key=seed_of)
    print(
        "| GRPO seed | reward gain | accuracy | tool calls / rollout | cut | turns / rollout |"
        " multi-hop accuracy | GRPO CPU-min | peak RSS |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    for path in paths:
        run = json.loads(path.read_text(encoding="utf-8"))
        base, trained = run["base"], run["trained"]
        hops = [r.get("accuracy_by_type", {}).get("multi_hop") for r in (base, trained)]
        hop_text = " -> ".join("n/a" if h is None else f"{h:.1%}" for h in hops)
        turns = [r.get("turns_mean") for r in (base, trained)]
        turn_text = "n/a" if None in turns else f"{turns[0]:.2f} -> {turns[1]:.2f}"
        print(
            f"| {seed_of(path)} | {run['reward_gain'] / run['reward_gain_se']:+.1f} SE"
            f" | {base['accuracy']:.1%} -> {trained['accuracy']:.1%}"
            f" | {base['tool_calls_mean']:.2f} -> {trained['tool_calls_mean']:.2f}"
            f" | {run['tool_call_cut']:.1%} | {turn_text} | {hop_text}"
            f" | {run['grpo_cpu_seconds'] / 60:.2f} | {run['peak_rss_gb']:.2f} GB |"
        )


if __name__ == "__main__":
    main()
