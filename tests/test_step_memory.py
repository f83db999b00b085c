"""benchmarks/step_memory.py at a small size: the job with free memory handed back around each loss
step trains exactly as the one without (the figures are not checked: a shared machine's peak and
CPU time mean nothing here)."""

import re


def test_handing_memory_back_leaves_every_step_the_same(run_benchmark):
    out = run_benchmark("step_memory.py", "--steps", "2", "--train-lines", "16")
    for mode in ("kept", "released"):
        row = rf"^\| {mode} \| [\d.]+ \| [\d.]+ million \| [\d.]+ GB \| [\d.]+x \|"
        assert re.search(row, out, re.M)
    assert "the same figures at every step: yes" in out
