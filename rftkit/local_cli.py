"""``rftkit local``: pre-train the base model, run GRPO, evaluate (the local CPU engine)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rftkit.local.grpo import GRPOConfig, GRPOTrainer
from rftkit.local.pretrain import BASE_CHECKPOINT, PretrainConfig, load_model, pretrain


def _run_pretrain(args: argparse.Namespace) -> int:
    config = PretrainConfig(
        seed=args.seed,
        worlds=args.worlds,
        cycles=tuple(args.cycles),
        slot_weights=tuple(args.slot_weights),
    )
    summary = pretrain(config, args.out, resume_from=args.resume_from, done_cycles=args.done_cycles)
    print(json.dumps(summary, indent=2))
    return 0


def _run_grpo(args: argparse.Namespace) -> int:
    model, tokenizer = load_model(args.model)
    config = GRPOConfig(steps=args.steps, reward=args.reward, seed=args.seed)
    trainer = GRPOTrainer(config, model, tokenizer, args.out)
    events = trainer.run()
    with (args.out / "events.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(event) + "\n" for event in events)
    print(
        json.dumps(
            {
                "steps": trainer.step,
                "cpu_seconds": round(trainer.cpu_seconds, 1),
                "last": events[-1]["message"],
                "checkpoints": trainer.checkpoints,
            },
            indent=2,
        )
    )
    return 0


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
    grpo.add_argument("--steps", type=int, default=GRPOConfig.steps)
    grpo.add_argument("--reward", choices=("course", "flat_cost"), default="course")
    grpo.add_argument("--seed", type=int, default=0)
    grpo.add_argument("--out", type=Path, default=Path("runs/grpo"))
    grpo.set_defaults(run=_run_grpo)
