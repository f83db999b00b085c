"""GRPO with and without keys and values kept across turns: CPU time, peak memory, same samples?

    PYTHONPATH=$PWD python benchmarks/kv_cache.py            # ~1 CPU-minute: two runs of ~30 s
    PYTHONPATH=$PWD python benchmarks/kv_cache.py --train-lines 32 --steps 4

The local jobs backend runs triage and ``--steps`` GRPO steps of the committed base checkpoint on
a shrunk course task (its tools over HTTP on loopback, the course grader), once with
``cache_across_turns`` off (each turn re-encodes the conversation) and once on (the default: each
turn encodes only the tool outputs since the last). Each run is a fresh process, so its peak RSS is
its own. The two runs share the seed, so their per-step figures (rewards, tool calls, sampled
tokens, KL) are equal exactly when both sampled the same tokens.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile

STEP_FIGURES = ("train_mean_reward", "tool_calls_per_rollout", "completion_tokens_mean", "kl")


def one_run(args) -> dict:
    from rftkit.course.task import CourseTaskSize, serve_course_task
    from rftkit.jobs.local import LocalJob

    size = CourseTaskSize(
        train_worlds=1, train_per_world=args.train_lines, valid_worlds=1, valid_per_world=4
    )
    grpo = {
        "steps": args.steps,
        "tasks_per_step": 4,
        "eval_interval": 1000,
        "cache_across_turns": args.one == "on",
    }
    with (
        tempfile.TemporaryDirectory() as directory,
        serve_course_task(directory + "/task", size) as course,
    ):
        job = LocalJob(course.task, env=course.env, grpo=grpo, out_dir=directory + "/job")
        if job.start(progress=False).wait() != "succeeded":
            raise SystemExit(f"GRPO job {job.status}: {job.error}")
    trainer = job.trainer
    steps = [e["data"] for e in trainer.events if e.get("type") == "metrics"]
    return {
        "cpu_seconds": trainer.cpu_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "steps": [[step[name] for name in STEP_FIGURES] for step in steps],
        "triage": next(e["message"] for e in trainer.events if "triage" in e["message"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-lines", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--one", choices=("off", "on"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args)))
        return
    runs = {}
    for mode in ("off", "on"):
        command = [sys.executable, __file__, "--one", mode, *sys.argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    off, on = runs["off"], runs["on"]
    print(f"{off['triage']}\n")
    print("| cache_across_turns | GRPO CPU-s (triage + steps) | peak RSS MB |")
    print("| --- | --- | --- |")
    for mode, run in runs.items():
        print(f"| {mode} | {run['cpu_seconds']:.1f} | {run['peak_rss_mb']:.0f} |")
    print(f"\nper step ({', '.join(STEP_FIGURES)}):")
    for mode, run in runs.items():
        print(f"  {mode}: {run['steps']}")
    untimed = {mode: run["triage"].rsplit(" (", 1)[0] for mode, run in runs.items()}
    if untimed["on"] != untimed["off"]:
        print(f"triage with the cache: {on['triage']}\n")
    same = off["steps"] == on["steps"] and untimed["on"] == untimed["off"]
    print(
        f"\nratio off / on CPU-s: {off['cpu_seconds'] / on['cpu_seconds']:.2f}x;"
        f" the same samples' figures at every step and in triage: {'yes' if same else 'NO'}"
    )


if __name__ == "__main__":
    main()
