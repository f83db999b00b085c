"""The ``rftkit`` command: one sub-command group per concept, each registered by its own module.

argparse (standard library) rather than a CLI framework: the surface is small and every group
module stays importable without extra dependencies.

Only the group being run is imported. The groups reach torch, jsonschema's format checkers, pandas
and uvicorn; importing all of them cost every command about 7 CPU-seconds before it did anything
(``benchmarks/cli_start.py`` prints the figures). ``rftkit --help`` lists the groups from
:data:`COMMANDS` alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rftkit.errors import ExitCode

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("rftkit.demo", "run the whole loop offline on the embedded default"),
    "world": ("rftkit.course.world.cli", "the course's task world"),
    "data": ("rftkit.data.cli", "RFT datasets: validate, build, split"),
    "tools": ("rftkit.tools_cli", "the course's tool service"),
    "endpoints": ("rftkit.endpoints.cli", "readiness tests for tool endpoints"),
    "graders": ("rftkit.graders.cli", "OpenAI grader configs, run locally"),
    "new": (
        "rftkit.scaffold.cli",
        "scaffold your own Agent RFT project (tools, data, grader, checks, Modal, notebooks)",
    ),
    "local": ("rftkit.course.local_cli", "the local CPU training engine"),
    "jobs": (
        "rftkit.jobs.cli",
        "preflight, forecast, launch and follow training jobs (exit codes: see docs)",
    ),
    "api": ("rftkit.api.cli", "the local OpenAI-compatible fine-tuning API"),
    "trl": ("rftkit.trl.cli", "TRL's GRPOTrainer on Modal GPUs: describe, fits, jobs"),
}
"""Each group's module (which has ``register(commands)``) and its one-line help."""


def chosen_command(argv: Sequence[str]) -> str | None:
    """The group ``argv`` runs: its first word that names one (options come before it)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every group listed; ``only`` (or every group, when None) fully registered."""
    parser = argparse.ArgumentParser(
        prog="rftkit",
        description="Agent RFT kit: data, tools, graders, rollouts, training, analysis.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).register(commands)
        else:
            commands.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; its return value is the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = chosen_command(argv)
    args = build_parser(only=command or "").parse_args(argv)  # "" registers no group
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
