"""benchmarks/step_memory.py at a small size: the job with free memory handed back around each loss
step trains exactly as the one without (the figures are not checked: a shared machine's peak and
CPU time mean nothing here)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_handing_memory_back_leaves_every_step_the_same(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = ROOT / "benchmarks" / "step_memory.py"
    command = [sys.executable, str(script), "--steps", "2", "--train-lines", "16"]
    done = subprocess.run(  # from an empty folder, as a user in another checkout would
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for mode in ("kept", "released"):
        row = rf"^\| {mode} \| [\d.]+ \| [\d.]+ million \| [\d.]+ GB \| [\d.]+x \|"
        assert re.search(row, done.stdout, re.M)
    assert "the same figures at every step: yes" in done.stdout
