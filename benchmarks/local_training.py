"""Benchmark of the local training engine against issues 7 and 18's targets (prints tables).

    PYTHONPATH=$PWD python benchmarks/local_training.py --seed 0   # full run, ~15-30 min, 2 cores
    PYTHONPATH=$PWD python benchmarks/local_training.py --worlds tuning   # while choosing settings
    PYTHONPATH=$PWD python benchmarks/local_training.py --worlds tuning --top-p 0.9  # a sampler

1. the committed base model on held-out tasks from unseen worlds (seeds 100+), one rollout per
   task at the rollout temperature (and ``--top-p``), over HTTP, graded by the course grader;
2. GRPO on the course task (``rftkit.course.task``) through the local jobs backend, trained on the
   latency reward (``rftkit.course.rewards``) with the task's hosted hyperparameters mapped to GRPO
   settings; its CPU time and peak memory;
3. the trained model on the same held-out tasks: course-reward gain in standard errors (paired by
   task), accuracy, and the Agent RFT patterns: tool calls, turns and reasoning tokens per rollout,
   the share of parallel turns, multi-hop accuracy;
4. the reward-hacking lesson: the same GRPO run with the flat per-call cost reward, its validation
   curve beside the main reward's, and both trained models on the same held-out tasks.
Held-out worlds are only ever evaluated here, never used to choose settings: ``--worlds tuning``
evaluates on the tuning worlds instead (seeds 2500+) and writes under ``results/tuning/``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from rftkit.course.evaluate import evaluate, parallel_turn_share, summarise
from rftkit.course.rewards import REWARDS
from rftkit.course.task import serve_course_task
from rftkit.course.worlds import HELDOUT_SEEDS, TUNING_SEEDS, world_seeds
from rftkit.jobs.local import LocalJob
from rftkit.local.checkpoint import BASE_CHECKPOINT, load_model
from rftkit.local.grpo import GRPOConfig, GRPOTrainer

RESULTS = Path(__file__).parent / "results"
EVALUATION_WORLDS = {"heldout": HELDOUT_SEEDS, "tuning": TUNING_SEEDS}
SEQUENTIAL_TYPES = ("lookup",)
"""Task types with no two independent calls (one figure); every other type reads reports it
could read together (two quarters, two companies, a year's quarters, the first hop's three)."""


def train(
    reward: str,
    steps: int | None,
    seed: int,
    directory: str,
    model: Path = BASE_CHECKPOINT,
    top_p: float = GRPOConfig.top_p,
) -> GRPOTrainer:
    """The course task (the demo's) on the local jobs backend, graded by ``reward``."""
    with serve_course_task(directory + "/task", grader=REWARDS[reward]()) as course:
        task = course.task.model_copy(update={"seed": seed, "model": str(model)})
        grpo = {"top_p": top_p} | ({"steps": steps} if steps else {})
        job = LocalJob(task, env=course.env, grpo=grpo, out_dir=directory + "/job")
        if job.start(progress=True).wait() != "succeeded":
            raise SystemExit(f"GRPO job {job.status}: {job.error}")
    return job.trainer


def paired_gain(before, after) -> tuple[float, float]:
    """Mean per-task reward change and its standard error (same tasks, paired)."""
    merged = before.merge(after, on="task_id", suffixes=("_before", "_after")).dropna(
        subset=["reward_before", "reward_after"]
    )
    diff = merged["reward_after"] - merged["reward_before"]
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


def curve(trainer: GRPOTrainer) -> list[tuple[int, float, float, float]]:
    rows = []
    for event in trainer.events:
        data = event["data"]
        if event["type"] == "metrics" and data.get("full_valid_mean_reward") is not None:
            rows.append(
                (
                    data["step"],
                    data["full_valid_mean_reward"],
                    data["valid_accuracy"],
                    data["valid_tool_calls_per_rollout"],
                )
            )
    return rows


def cut(before: float, after: float) -> float:
    """The relative reduction from ``before`` to ``after`` (NaN when there was nothing to cut)."""
    return 1 - after / before if before else math.nan


def independent_share(frame) -> float:
    """The parallel-turn share on the task types whose calls are independent."""
    return parallel_turn_share(frame[~frame["task_type"].isin(SEQUENTIAL_TYPES)])


def print_pattern_targets(base: dict, trained: dict, shares: tuple[float, float]) -> None:
    """Issue 18's targets: what Agent RFT is known to teach, on the same held-out tasks."""
    rows = [
        ("tool calls per rollout", "tool_calls_mean", ">= 30% fewer"),
        ("turns per rollout", "turns_mean", ">= 30% fewer"),
        ("reasoning tokens per rollout", "reasoning_tokens_mean", ">= 30% fewer"),
    ]
    print("\nAgent RFT patterns (issue 18):\n| figure | base | trained | change | wanted | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, key, wanted in rows:
        change = cut(base[key], trained[key])
        shown = "n/a (none)" if math.isnan(change) else f"{-change:+.1%}"
        met = "yes" if change >= 0.3 else "NO"
        print(f"| {name} | {base[key]:.2f} | {trained[key]:.2f} | {shown} | {wanted} | {met} |")
    share_before, share_after = shares
    met = "yes" if share_after > share_before else "NO"
    print(
        f"| share of tool turns with 2+ calls (task types with independent calls) |"
        f" {share_before:.1%} | {share_after:.1%} | {share_after - share_before:+.1%} | up |"
        f" {met} |"
    )
    hop_before = base["accuracy_by_type"].get("multi_hop", math.nan)
    hop_after = trained["accuracy_by_type"].get("multi_hop", math.nan)
    print(
        f"| multi-hop accuracy | {hop_before:.1%} | {hop_after:.1%} | {hop_after - hop_before:+.1%}"
        f" | > 0 before and after | {'yes' if hop_before > 0 and hop_after > 0 else 'NO'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout-worlds", type=int, default=20)
    parser.add_argument("--tasks-per-world", type=int, default=20)
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps (default: demo's)")
    parser.add_argument("--seed", type=int, default=0, help="GRPO's seed (task picks, sampling)")
    parser.add_argument("--skip-hacking", action="store_true")
    parser.add_argument("--reward", choices=tuple(REWARDS), default="latency")
    parser.add_argument("--worlds", choices=tuple(EVALUATION_WORLDS), default="heldout")
    parser.add_argument("--model", type=Path, default=BASE_CHECKPOINT, help="the base checkpoint")
    parser.add_argument(
        "--top-p", type=float, default=GRPOConfig.top_p, help="rollouts' and evaluations' top-p"
    )
    args = parser.parse_args()
    base, tokenizer = load_model(args.model)
    seeds = world_seeds(EVALUATION_WORLDS[args.worlds], args.heldout_worlds)
    temperature = GRPOConfig().temperature
    options = {"tasks_per_world": args.tasks_per_world, "top_p": args.top_p}

    started = time.perf_counter()
    before = evaluate(base, tokenizer, seeds, temperature=temperature, **options)
    base_summary = summarise(before)
    print(f"base ({args.worlds}):", base_summary, f"[{time.perf_counter() - started:.0f} s]")

    with tempfile.TemporaryDirectory() as directory:
        trainer = train(args.reward, args.steps, args.seed, directory, args.model, args.top_p)
        after = evaluate(trainer.model, tokenizer, seeds, temperature=temperature, **options)
        hacked = (
            None
            if args.skip_hacking
            else train(
                "flat_cost", args.steps, args.seed, directory + "/flat", args.model, args.top_p
            )
        )
        hacked_after = (
            None
            if hacked is None
            else evaluate(hacked.model, tokenizer, seeds, temperature=temperature, **options)
        )
    trained_summary = summarise(after)
    hacked_summary = summarise(hacked_after) if hacked_after is not None else None
    print(f"trained ({args.worlds}):", trained_summary)
    gain, se = paired_gain(before, after)
    call_cut = cut(base_summary["tool_calls_mean"], trained_summary["tool_calls_mean"])
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    cpu_minutes = trainer.cpu_seconds / 60
    acc_before, acc_after = base_summary["accuracy"], trained_summary["accuracy"]

    rows = [
        (
            f"base accuracy at T={temperature:g}, top-p {args.top_p:g}",
            f"{acc_before:.1%}",
            "20%-80%",
            0.2 <= acc_before <= 0.8,
        ),
        (
            "base tool calls / task minimum",
            f"{base_summary['tool_calls_ratio']:.2f}x",
            ">= 1.3x",
            base_summary["tool_calls_ratio"] >= 1.3,
        ),
        ("GRPO CPU-minutes (process CPU time)", f"{cpu_minutes:.2f}", "<= 5", cpu_minutes <= 5),
        (
            "held-out reward gain (paired)",
            f"{gain:+.4f} = {gain / se:+.1f} SE (n={len(after)})",
            ">= 3 SE",
            gain / se >= 3,
        ),
        (
            "tool calls per rollout cut",
            f"{call_cut:.1%} ({base_summary['tool_calls_mean']:.2f} -> "
            f"{trained_summary['tool_calls_mean']:.2f})",
            ">= 30%",
            call_cut >= 0.3,
        ),
        (
            "accuracy after vs before",
            f"{acc_after:.1%} vs {acc_before:.1%}",
            "equal or better",
            acc_after >= acc_before,
        ),
        ("peak memory (max RSS)", f"{peak_gb:.2f} GB", "<= 3 GB", peak_gb <= 3),
    ]
    print("\n| target | measured | wanted | met |\n| --- | --- | --- | --- |")
    for name, measured, wanted, met in rows:
        print(f"| {name} | {measured} | {wanted} | {'yes' if met else 'NO'} |")
    shares = independent_share(before), independent_share(after)
    print_pattern_targets(base_summary, trained_summary, shares)
    if hacked is not None:
        print("\nReward hacking (validation worlds, each run graded by its own reward):")
        print(
            f"| step | {args.reward} reward | {args.reward} acc | {args.reward} calls |"
            " flat-cost reward | "
            "flat-cost acc | flat-cost calls |\n| --- | --- | --- | --- | --- | --- | --- |"
        )
        for (step, r1, a1, c1), (_, r2, a2, c2) in zip(curve(trainer), curve(hacked), strict=False):
            print(f"| {step} | {r1:.3f} | {a1:.1%} | {c1:.2f} | {r2:.3f} | {a2:.1%} | {c2:.2f} |")
        print(
            "\nThe same held-out tasks, graded by the course grader:\n"
            "| model | accuracy | tool calls | calls / task minimum | course reward |\n"
            "| --- | --- | --- | --- | --- |"
        )
        for name, summary in (
            ("base", base_summary),
            (f"GRPO, {args.reward} reward", trained_summary),
            ("GRPO, flat per-call cost", hacked_summary),
        ):
            print(
                f"| {name} | {summary['accuracy']:.1%} | {summary['tool_calls_mean']:.2f} | "
                f"{summary['tool_calls_ratio']:.2f}x | {summary['reward_mean']:.3f} |"
            )
    results = {
        "command": "PYTHONPATH=$PWD python benchmarks/local_training.py " + " ".join(sys.argv[1:]),
        "reward": args.reward,
        "worlds": args.worlds,
        "heldout_world_seeds": seeds,
        "base": base_summary,
        "trained": trained_summary,
        "flat_cost_trained": hacked_summary,
        "reward_gain": gain,
        "reward_gain_se": se,
        "tool_call_cut": call_cut,
        "turn_cut": cut(base_summary["turns_mean"], trained_summary["turns_mean"]),
        "reasoning_token_cut": cut(
            base_summary["reasoning_tokens_mean"], trained_summary["reasoning_tokens_mean"]
        ),
        "parallel_turn_share_independent": {"base": shares[0], "trained": shares[1]},
        "grpo_cpu_seconds": trainer.cpu_seconds,
        "peak_rss_gb": peak_gb,
        "grpo_config": asdict(trainer.config),
        "events": {"main": trainer.events, "flat_cost": hacked.events if hacked else []},
    }
    sampler = f"_top_p{args.top_p:g}" if args.top_p < 1 else ""
    seed = f"_seed{args.seed}" if args.seed else ""
    name = f"local_training{seed}{sampler}.json"
    out = RESULTS if args.worlds == "heldout" else RESULTS / args.worlds
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {out / name}")
    print(
        f"\nGRPO run: {trainer.step} steps, {trainer.cpu_seconds:.0f} CPU-s (trainer process, all"
        " threads; the grader sandbox's processes are not included)"
    )


if __name__ == "__main__":
    main()
