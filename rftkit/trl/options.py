"""The TRL job spec's command-line options, shared by ``python -m rftkit.trl`` and ``rftkit jobs
--backend trl-modal``. Imports nothing heavy, so ``rftkit jobs --help`` stays fast."""

from __future__ import annotations

import argparse
from typing import Any

from rftkit.trl.gpus import DEFAULT_MODEL

VLLM_MODES = ("colocate", "server")
FINETUNES = ("auto", "full", "lora")


def add_spec_options(parser: Any) -> None:
    """``--model``, ``--gpu``, ``--vllm-mode``, ``--finetune``, lengths and the timeout."""
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--gpu", default="H100", help="H100, H100:2 ... B200:8")
    parser.add_argument("--vllm-mode", default="colocate", choices=VLLM_MODES)
    parser.add_argument("--finetune", default="auto", choices=FINETUNES)
    parser.add_argument("--max-prompt-length", type=int, default=2048)
    parser.add_argument("--max-completion-length", type=int, default=4096)
    parser.add_argument("--timeout-hours", type=float, default=24.0)


def spec_from_options(args: argparse.Namespace) -> Any:
    """The ``TRLJobSpec`` the options describe; a bad value is a ``ValueError`` naming it."""
    from rftkit.trl.jobspec import TRLJobSpec

    return TRLJobSpec(
        model=args.model,
        gpu=args.gpu,
        vllm_mode=args.vllm_mode,
        finetune=args.finetune,
        max_prompt_length=args.max_prompt_length,
        max_completion_length=args.max_completion_length,
        timeout_hours=args.timeout_hours,
    )


def add_options(group: Any) -> None:
    """The trl-modal backend's options in ``rftkit jobs`` (the plugin hook of
    :data:`rftkit.jobs.backend.PLUGINS`)."""
    add_spec_options(group)


def from_options(args: argparse.Namespace) -> dict[str, Any]:
    """The trl-modal backend's keyword arguments from ``rftkit jobs`` options (``spec``)."""
    return {"spec": spec_from_options(args) if hasattr(args, "gpu") else None}
