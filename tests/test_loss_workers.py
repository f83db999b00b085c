"""benchmarks/loss_workers.py at a small size: one worker and two, each in its own process, give
the same gradient bit for bit (the figures are not checked: a shared machine's timings mean
nothing here)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_one_worker_and_two_give_the_same_gradient_in_separate_processes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = ROOT / "benchmarks" / "loss_workers.py"
    command = [sys.executable, str(script), "--rollouts", "12", "--steps", "1"]
    done = subprocess.run(  # from an empty folder, as a user in another checkout would
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for workers in (1, 2):
        assert re.search(
            rf"^\| {workers} \| [\d.]+ \| [\d.]+ \| [\d.]+ GB \| [\d.]+x \|", done.stdout, re.M
        )
    assert "gradients of one worker and two equal bit for bit: yes" in done.stdout
