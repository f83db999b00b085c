"""The GRPO loss step on one worker thread and on two: time, peak memory, the same gradient.

    PYTHONPATH=$PWD python benchmarks/loss_workers.py   # ~1 minute on two cores

The committed base checkpoint takes ``--steps`` loss steps (``accumulate_gradients``: the policy
and reference forwards and the backward over ``GRPOConfig().batch_tokens`` length buckets) on
``--rollouts`` random rollouts of 300-1,000 tokens, 30% of them sampled (trained), fixed
advantages. Each worker count runs in its own process, so each peak RSS is that run's alone (the
loaded model is about 0.36 GB of it). Prints a table with the ratio against one worker and
whether the last step's gradients are equal bit for bit.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from rftkit.local.checkpoint import load_model
from rftkit.local.grpo import GRPOConfig, accumulate_gradients
from rftkit.local.memory import tune_malloc
from rftkit.local.tokenizer import Rendered, SlotTable


def run(workers: int, rollouts: int, steps: int, gradients: Path) -> dict[str, float]:
    """``steps`` loss steps on ``workers`` threads; saves the last gradient to ``gradients``."""
    tune_malloc()
    torch.set_num_threads(GRPOConfig().threads)
    torch.manual_seed(0)
    model, tokenizer = load_model()
    reference = copy.deepcopy(model).eval()
    rng = random.Random(0)
    rows = []
    for _ in range(rollouts):
        length = rng.randint(300, 1000)
        ids = [rng.randrange(5, len(tokenizer)) for _ in range(length)]
        rows.append(Rendered(ids, [rng.random() < 0.3 for _ in range(length)], SlotTable()))
    advantages = torch.randn(rollouts)
    model.train()
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as threads:
        for _ in range(steps):
            model.zero_grad(set_to_none=True)
            accumulate_gradients(model, reference, rows, advantages, GRPOConfig(), threads)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    torch.save([p.grad for p in model.parameters()], gradients)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {"wall": wall / steps, "cpu": cpu / steps, "peak_gb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=48)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--workers", type=int, help="run one worker count (the child process)")
    parser.add_argument("--gradients", type=Path)
    args = parser.parse_args()
    if args.workers:
        print(json.dumps(run(args.workers, args.rollouts, args.steps, args.gradients)))
        return
    results, grads = {}, {}
    with tempfile.TemporaryDirectory() as directory:
        for workers in (1, 2):
            grads[workers] = Path(directory) / f"grad{workers}.pt"
            child = [sys.executable, __file__, "--workers", str(workers)]
            child += ["--rollouts", str(args.rollouts), "--steps", str(args.steps)]
            child += ["--gradients", str(grads[workers])]
            output = subprocess.run(child, capture_output=True, text=True, check=True).stdout
            results[workers] = json.loads(output.splitlines()[-1])
        same = all(
            torch.equal(a, b)
            for a, b in zip(torch.load(grads[1]), torch.load(grads[2]), strict=True)
        )
    one = results[1]
    print(f"GRPO loss step, {args.rollouts} rollouts, mean of {args.steps} steps")
    print("| workers | wall s/step | CPU s/step | peak RSS | wall vs 1 | peak vs 1 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for workers, r in results.items():
        print(
            f"| {workers} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['peak_gb']:.2f} GB"
            f" | {r['wall'] / one['wall']:.2f}x | {r['peak_gb'] / one['peak_gb']:.2f}x |"
        )
    print(f"gradients of one worker and two equal bit for bit: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
