"""What the committed base model can do, on validation worlds (prints tables; not a test).

    PYTHONPATH=$PWD python benchmarks/base_model.py [--checkpoint PATH]      # about 2 minutes
    PYTHONPATH=$PWD python benchmarks/base_model.py --temperatures 1 --top-p 0.9   # a sampler

1. teacher-forced accuracy on the scripted expert's transcripts, by kind of token: where a base
   model's mistakes are (writing calls, or copying the right figure into its answer);
2. accuracy and tool calls per task type over HTTP at several temperatures (and a top-p): the
   room RL has, since GRPO can only reinforce what its rollouts sample.
Validation worlds (seeds 300 and up) only: the held-out worlds are for the training benchmark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rftkit.course.evaluate import evaluate, summarise, teacher_forced_accuracy
from rftkit.course.worlds import VALID_SEEDS, world_seeds
from rftkit.local.checkpoint import BASE_CHECKPOINT, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=BASE_CHECKPOINT)
    parser.add_argument("--worlds", type=int, default=3)
    parser.add_argument("--tasks-per-world", type=int, default=50)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    parser.add_argument("--top-p", type=float, default=1.0, help="sample from each nucleus")
    args = parser.parse_args()
    model, tokenizer = load_model(args.checkpoint)
    seeds = world_seeds(VALID_SEEDS, args.worlds)
    print(f"checkpoint {args.checkpoint}, validation worlds {seeds}\n")
    print("Teacher-forced: the model's top token against the expert's")
    print(teacher_forced_accuracy(model, tokenizer, seeds[:2]).to_string(index=False))
    for temperature in args.temperatures:
        frame = evaluate(
            model,
            tokenizer,
            seeds,
            tasks_per_world=args.tasks_per_world,
            temperature=temperature,
            top_p=args.top_p,
        )
        summary = summarise(frame)
        print(
            f"\nTemperature {temperature:g}, top-p {args.top_p:g}: accuracy"
            f" {summary['accuracy']:.1%} on {summary['tasks']} tasks, tool calls"
            f" {summary['tool_calls_mean']:.2f} ({summary['tool_calls_ratio']:.2f}x the task"
            " minimum), turns"
            f" {summary['turns_mean']:.2f}, parallel turns {summary['parallel_turn_share']:.1%},"
            f" reasoning tokens {summary['reasoning_tokens_mean']:.1f} per rollout"
        )
        columns = ["correct", "tool_calls", "min_tool_calls", "turns", "reasoning_tokens"]
        by_type = frame.groupby("task_type")[columns].mean()
        print(by_type.round(2).to_string())


if __name__ == "__main__":
    main()
