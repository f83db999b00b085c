"""``rftkit local``: pre-train the base model, run GRPO, evaluate (the local CPU engine)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rftkit.local.pretrain import BASE_CHECKPOINT, PretrainConfig, pretrain


def _run_pretrain(args: argparse.Namespace) -> int:
    config = PretrainConfig(seed=args.seed, worlds=args.worlds, steps=args.steps)
    summary = pretrain(config, args.out)
    print(json.dumps(summary, indent=2))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    local = commands.add_parser("local", help="the local CPU training engine")
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    pre = actions.add_parser("pretrain", help="train the base model on scripted transcripts")
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--worlds", type=int, default=PretrainConfig.worlds)
    pre.add_argument("--steps", type=int, default=PretrainConfig.steps)
    pre.add_argument("--out", type=Path, default=BASE_CHECKPOINT)
    pre.set_defaults(run=_run_pretrain)
