"""benchmarks/step_memory.py at a small size, from an empty folder: both runs finish and the table
and the comparison of their steps are printed (the figures are not checked: a shared machine's
peak and CPU time mean nothing here, and batch rounding can set the two runs on different
paths)."""

import re


def test_both_runs_finish_and_print_their_table(run_benchmark):
    out = run_benchmark("step_memory.py", "--steps", "2", "--train-lines", "16")
    for mode in ("kept", "released"):
        row = rf"^\| {mode} \| [\d.]+ \| [\d.]+ million \| [\d.]+ GB \| [\d.]+x \|"
        assert re.search(row, out, re.M)
    assert re.search(r"the same figures at every step: (yes|no)$", out, re.M)
