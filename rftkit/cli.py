"""The ``rftkit`` command: one sub-command group per concept, each registered by its own module.

argparse (standard library) rather than a CLI framework: the surface is small and every group
module stays importable without extra dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rftkit import demo, tools_cli
from rftkit.api import cli as api_cli
from rftkit.data import cli as data_cli
from rftkit.endpoints import cli as endpoints_cli
from rftkit.graders import cli as graders_cli
from rftkit.jobs import cli as jobs_cli
from rftkit.local import cli as local_cli
from rftkit.scaffold import cli as new_cli
from rftkit.world import cli as world_cli

Registrar = Callable[[argparse._SubParsersAction], None]

GROUPS: tuple[Registrar, ...] = (
    demo.register,
    world_cli.register,
    data_cli.register,
    tools_cli.register,
    endpoints_cli.register,
    graders_cli.register,
    new_cli.register,
    local_cli.register,
    jobs_cli.register,
    api_cli.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rftkit",
        description="Agent RFT kit: data, tools, graders, rollouts, training, analysis.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in GROUPS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; its return value is the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
