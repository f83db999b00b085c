"""benchmarks/engine_vs_trl.py runs end to end at its smallest setting against the installed TRL.

It reaches into TRL's GRPOTrainer (``_generate_single_turn``,
``_get_per_token_logps_and_entropies``, ``compute_loss``), so a TRL upgrade that moves them fails
here rather than in a benchmark run.
About 10 CPU-seconds, most of it importing transformers and TRL; the figures are not checked
(a shared test machine's timings mean nothing), the shape of the report and the engine's
agreement with itself are.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the benchmark compares against TRL: pip install rftkit[trl]")

ROOT = Path(__file__).resolve().parents[1]


def test_the_smallest_run_prints_both_tables_and_the_ratios():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "benchmarks/engine_vs_trl.py", "--quick", "--sequences", "6"]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "6 rollouts x 2 turns x 16 sampled tokens (192 tokens)" in out
    for runner in (
        "engine, re-encoding each turn",
        "engine, cache across turns (default)",
        "TRL GRPOTrainer, transformers generate",
        "engine GRPO step",
        "TRL GRPOTrainer step (no gradient checkpointing)",
    ):
        assert re.search(rf"^\| {re.escape(runner)} \| [\d.]+ \| [\d.]+ \|", out, re.M), runner
    assert "6 of 6 rollouts token for token" in out
    assert re.search(r"^ratio engine / TRL tokens/s: [\d.]+x wall", out, re.M)
