"""``rftkit world``: write the course's corpus and tasks to disk."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rftkit.course.world import STYLES, generate_tasks, generate_world, write_corpus
from rftkit.errors import ExitCode


def write_world(
    directory: Path, seed: int = 0, companies: int = 20, quarters: int = 8
) -> dict[str, object]:
    """Both renderings under ``directory/<style>/`` and the tasks as ``tasks.jsonl``."""
    world = generate_world(seed=seed, n_companies=companies, n_quarters=quarters)
    files = {style: len(write_corpus(world, directory / style, style=style)) for style in STYLES}
    tasks = generate_tasks(world, seed=seed)
    with (directory / "tasks.jsonl").open("w", encoding="utf-8") as out:
        for task in tasks:
            out.write(json.dumps(task.to_dict()) + "\n")
    return {
        "directory": str(directory),
        "companies": len(world.companies),
        "quarters": len(world.quarters),
        "files": files,
        "tasks": dict(Counter(t.task_type for t in tasks)),
    }


def _run_write(args: argparse.Namespace) -> int:
    summary = write_world(args.directory, args.seed, args.companies, args.quarters)
    print(json.dumps(summary, indent=2))
    return ExitCode.OK


def register(commands: argparse._SubParsersAction) -> None:
    world = commands.add_parser("world", help="the course's task world")
    actions = world.add_subparsers(dest="action", required=True, metavar="ACTION")
    write = actions.add_parser("write", help="write both corpus renderings and tasks.jsonl")
    write.add_argument("directory", type=Path)
    write.add_argument("--seed", type=int, default=0)
    write.add_argument("--companies", type=int, default=20)
    write.add_argument("--quarters", type=int, default=8)
    write.set_defaults(run=_run_write)
