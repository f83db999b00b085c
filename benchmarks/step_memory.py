"""GRPO steps with and without free memory handed back around each loss step: peak RSS, CPU time,
the same training?

    PYTHONPATH=$PWD python benchmarks/step_memory.py              # ~6 CPU-minutes: two runs
    PYTHONPATH=$PWD python benchmarks/step_memory.py --steps 2 --train-lines 16

The local jobs backend runs triage and ``--steps`` GRPO steps of the committed base checkpoint on
the course task (its tools over HTTP on loopback, the latency reward; ``--train-lines`` shrinks it
to one world of that many lines and a validation world of 4), each run in a fresh process
so that its peak RSS is its own: once as shipped (``malloc_trim`` before and after each loss step,
``rftkit.local.memory``) and once with that call made a no-op, as the trainer was before. The
allocator does not touch the maths, so the two runs' per-step figures differ only where batch
rounding flipped a sampled token (timing decides which rollouts share a batch).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile

STEP_FIGURES = ("train_mean_reward", "tool_calls_per_rollout", "completion_tokens_mean", "kl")
MODES = ("kept", "released")  # free pages kept in malloc's arenas, or handed back


def one_run(args) -> dict:
    from rftkit.course.rewards import REWARDS
    from rftkit.course.task import CourseTaskSize, serve_course_task
    from rftkit.jobs.local import LocalJob
    from rftkit.local import grpo

    if args.one == "kept":
        grpo.release_free_memory = lambda: None
    size = CourseTaskSize()
    if args.train_lines:  # a smoke run: one small world of each
        size = CourseTaskSize(1, args.train_lines, valid_worlds=1, valid_per_world=4)
    with (
        tempfile.TemporaryDirectory() as directory,
        serve_course_task(directory + "/task", size, grader=REWARDS["latency"]()) as course,
    ):
        task = course.task.model_copy(update={"seed": args.seed})
        settings = {"steps": args.steps, "eval_interval": 1000}
        job = LocalJob(task, env=course.env, grpo=settings, out_dir=directory + "/job")
        if job.start(progress=False).wait() != "succeeded":
            raise SystemExit(f"GRPO job {job.status}: {job.error}")
    steps = [e["data"] for e in job.trainer.events if e.get("type") == "metrics"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": job.trainer.cpu_seconds,
        "minor_faults": usage.ru_minflt,
        "peak_rss_gb": usage.ru_maxrss / 1024**2,
        "steps": [[step.get(name) for name in STEP_FIGURES] for step in steps],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1, help="GRPO's seed (task picks, sampling)")
    parser.add_argument("--train-lines", type=int, help="one world of these lines (a smoke run)")
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args)))
        return
    runs = {}
    for mode in MODES:
        command = [sys.executable, __file__, "--one", mode, *sys.argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    kept, released = runs["kept"], runs["released"]
    print(f"{args.steps} GRPO steps, seed {args.seed}, each run in its own process\n")
    print(
        "| free memory around each loss step | GRPO CPU-s (triage + steps) | minor page faults"
        " | peak RSS | peak ÷ kept |"
    )
    print("| --- | --- | --- | --- | --- |")
    for mode, run in runs.items():
        ratio = run["peak_rss_gb"] / kept["peak_rss_gb"]
        print(
            f"| {mode} | {run['cpu_seconds']:.1f} | {run['minor_faults'] / 1e6:.1f} million"
            f" | {run['peak_rss_gb']:.2f} GB | {ratio:.2f}x |"
        )
    same = kept["steps"] == released["steps"]
    print(
        f"\nCPU released / kept: {released['cpu_seconds'] / kept['cpu_seconds']:.2f}x;"
        f" the same figures at every step: {'yes' if same else 'no'}"
    )
    if not same:  # the allocator cannot change the maths; batch rounding can change a sample
        print(
            "(the two runs took different paths: which rollouts share a batch depends on timing,"
            " and the batched maths' rounding flipped a sampled token)"
        )


if __name__ == "__main__":
    main()
