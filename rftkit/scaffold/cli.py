"""``rftkit new PROJECT``: scaffold a team's own Agent RFT project (see :mod:`rftkit.scaffold`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rftkit.errors import ExitCode
from rftkit.scaffold import ScaffoldError, create_project, next_steps


def _run(args: argparse.Namespace) -> int:
    try:
        created = create_project(args.directory, package=args.package)
    except ScaffoldError as exc:
        print(f"rftkit new: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(next_steps(created))
    return ExitCode.OK


def register(commands: argparse._SubParsersAction) -> None:
    new = commands.add_parser(
        "new",
        help="scaffold your own Agent RFT project (tools, data, grader, checks, Modal, notebooks)",
    )
    new.add_argument(
        "directory", type=Path, help="the new project's folder; its name is the project's"
    )
    new.add_argument(
        "--package", help="the Python package's name (default: the project's, '-' as '_')"
    )
    new.set_defaults(run=_run)
