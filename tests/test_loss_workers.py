"""benchmarks/loss_workers.py at a small size: one worker and two, each in its own process, give
the same gradient bit for bit (the figures are not checked: a shared machine's timings mean
nothing here)."""

import re


def test_one_worker_and_two_give_the_same_gradient_in_separate_processes(run_benchmark):
    out = run_benchmark("loss_workers.py", "--rollouts", "12", "--steps", "1")
    for workers in (1, 2):
        assert re.search(
            rf"^\| {workers} \| [\d.]+ \| [\d.]+ \| [\d.]+ GB \| [\d.]+x \|", out, re.M
        )
    assert "gradients of one worker and two equal bit for bit: yes" in out
