"""``rftkit local``: pre-train the base model, run GRPO, evaluate (the local CPU engine)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rftkit.course.pretrain import PretrainConfig, pretrain
from rftkit.course.rewards import REWARDS
from rftkit.course.task import serve_course_task
from rftkit.errors import ExitCode
from rftkit.jobs.local import LocalJob
from rftkit.local.checkpoint import BASE_CHECKPOINT


def _run_pretrain(args: argparse.Namespace) -> int:
    config = PretrainConfig(
        seed=args.seed,
        worlds=args.worlds,
        cycles=tuple(args.cycles),
        slot_weights=tuple(args.slot_weights),
    )
    summary = pretrain(config, args.out, resume_from=args.resume_from, done_cycles=args.done_cycles)
    print(json.dumps(summary, indent=2))
    return ExitCode.OK


def _run_grpo(args: argparse.Namespace) -> int:
    grader = REWARDS[args.reward]()
    with serve_course_task(args.out / "task", grader=grader) as course:
        task = course.task.model_copy(update={"model": str(args.model), "seed": args.seed})
        grpo = {"steps": args.steps} if args.steps else {}
        job = LocalJob(task, env=course.env, grpo=grpo, out_dir=args.out)
        job.start(progress=True).wait()
    trainer, events = job.trainer, job.events()
    with (args.out / "events.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(event) + "\n" for event in events)
    print(
        json.dumps(
            {
                "status": job.status,
                "error": job.error,
                "steps": trainer.step,
                "cpu_seconds": round(trainer.cpu_seconds, 1),
                "last": events[-1]["message"],
                "checkpoints": trainer.checkpoints,
            },
            indent=2,
        )
    )
    return ExitCode.OK if job.status == "succeeded" else ExitCode.CHECKS_FAILED


def register(commands: argparse._SubParsersAction) -> None:
    local = commands.add_parser("local", help="the local CPU training engine")
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    pre = actions.add_parser("pretrain", help="train the base model on scripted transcripts")
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--worlds", type=int, default=PretrainConfig.worlds)
    pre.add_argument("--cycles", type=int, nargs="+", default=list(PretrainConfig.cycles))
    pre.add_argument(
        "--slot-weights",
        type=float,
        nargs="+",
        default=list(PretrainConfig.slot_weights),
        help="loss weight of copied figures/identifiers, one per cycle",
    )
    pre.add_argument("--resume-from", type=Path, help="weights after the first cycles")
    pre.add_argument("--done-cycles", type=int, default=0, help="cycles resume-from has done")
    pre.add_argument("--out", type=Path, default=BASE_CHECKPOINT)
    pre.set_defaults(run=_run_pretrain)
    grpo = actions.add_parser("grpo", help="reinforcement-fine-tune a checkpoint with GRPO")
    grpo.add_argument("--model", type=Path, default=BASE_CHECKPOINT)
    grpo.add_argument("--steps", type=int, help="GRPO steps (default: from the task's n_epochs)")
    grpo.add_argument("--reward", choices=tuple(REWARDS), default="course")
    grpo.add_argument("--seed", type=int, default=0)
    grpo.add_argument("--out", type=Path, default=Path("runs/grpo"))
    grpo.set_defaults(run=_run_grpo)
