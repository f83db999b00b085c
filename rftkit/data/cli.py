"""``rftkit data``: validate, build and split RFT JSONL files from the shell.

Exit status: 0 when the file is fine (warnings allowed), 1 when it has errors, 2 when the command
could not run (a missing file, a path that is no readable regular file such as a directory or
``/dev/zero``, a file over the 512 MB upload limit, an unreachable tool service).
``rftkit.data`` (pandas, scikit-learn, jsonschema) is imported when a data command runs, so other
commands do not wait for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from rftkit.course.world import STYLES
from rftkit.errors import ExitCode


class _CannotRun(Exception):
    """Raised for what stops a command before it starts (exit status 2)."""


def _specs(url: str | None, header_options: list[str] | None = None) -> list[dict] | None:
    """The service's tool specs, fetched with ``--header`` values (and ``$RFTKIT_TOOL_TOKEN``)."""
    if url is None:
        return None
    from rftkit.data import fetch_tool_specs
    from rftkit.secrets import HeaderError, parse_headers, strip_userinfo, with_token

    try:
        headers = with_token(parse_headers(header_options or []), "RFTKIT_TOOL_TOKEN")
        return fetch_tool_specs(url, headers=headers)
    except (HeaderError, ValueError) as exc:
        raise _CannotRun(f"cannot get the tool specs from {strip_userinfo(url)}: {exc}") from None


def _exit_status(command: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Run ``command``; a _CannotRun or a file that cannot be read or written (OSError, such as
    ``rftkit.data.jsonl.UnreadableFileError``) becomes one line on stderr and exit status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (_CannotRun, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return ExitCode.BAD_INPUT

    return run


def _run_validate(args: argparse.Namespace) -> int:
    from rftkit.data import Profile, tool_names, validate_file

    if args.grader is not None and not args.grader.exists():  # the data files: read_lines says
        raise _CannotRun(f"no such file: {args.grader}")
    specs = _specs(args.tools, args.header)
    report = validate_file(
        args.file,
        split=args.split,
        grader=args.grader,
        tool_names=tool_names(specs) if specs is not None else None,
        other_split=args.against,
        profile=Profile(args.platform, args.model),
        shared_answers=args.shared_answer,
    )
    for text in report.lines():
        print(text)
    print(report.summary())
    return ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED


def _run_build(args: argparse.Namespace) -> int:
    from rftkit.course.dataset import course_dataset
    from rftkit.data import DatasetValidationError, build_dataset, load_jsonl, write_jsonl

    specs = _specs(args.tools, args.header)
    if args.tasks is None:
        lines = course_dataset(seed=args.seed, style=args.style, n=args.n)
        if specs is not None:  # the same tasks, with the specs the given service serves
            for line in lines:
                line["tools"] = specs
    else:
        try:
            tasks = load_jsonl(args.tasks)
        except DatasetValidationError as exc:
            print(exc, file=sys.stderr)
            return ExitCode.CHECKS_FAILED
        lines = build_dataset(tasks, instructions=args.instructions, tools=specs)
    write_jsonl(lines, args.out)
    print(f"wrote {len(lines)} lines to {args.out}")
    return ExitCode.OK


def _run_split(args: argparse.Namespace) -> int:
    from rftkit.data import (
        DatasetValidationError,
        find_leakage,
        load_jsonl,
        stratified_split,
        write_jsonl,
    )

    try:
        lines = load_jsonl(args.file)
    except DatasetValidationError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.CHECKS_FAILED
    try:
        train, valid = stratified_split(lines, args.valid_fraction, args.seed, by=args.by)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.CHECKS_FAILED
    write_jsonl(train, args.train)
    write_jsonl(valid, args.valid)
    leaks = find_leakage(train, valid, shared_answers=args.shared_answer)
    print(f"wrote {len(train)} lines to {args.train} and {len(valid)} to {args.valid}")
    if not leaks.empty:
        print(f"{len(leaks)} leakage pair(s) between the splits:")
        print(leaks.to_string(index=False))
        return ExitCode.CHECKS_FAILED
    return ExitCode.OK


def register(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="RFT datasets: validate, build, split")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")

    validate = actions.add_parser("validate", help="list every problem with file, line and field")
    validate.add_argument("file", type=Path)
    validate.add_argument("--grader", type=Path, help="grader config JSON whose templates to check")
    validate.add_argument("--tools", metavar="URL", help="tool service whose names must match")
    validate.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="header for --tools, e.g. 'Authorization: Bearer ${TOKEN}' (${NAME}: env variable)",
    )
    validate.add_argument("--split", choices=("train", "validation"), default="train")
    validate.add_argument("--against", type=Path, help="the other split's file (leakage check)")
    validate.add_argument(
        "--shared-answer",
        action="append",
        default=[],
        metavar="ANSWER",
        help="an answer different tasks legitimately share (e.g. a flag); repeatable",
    )
    validate.add_argument(
        "--platform",
        choices=("openai", "azure"),
        help="make this platform's own rules errors (otherwise they are warnings)",
    )
    validate.add_argument("--model", help="the base model (o4-mini takes no image parts)")
    validate.set_defaults(run=_exit_status(_run_validate))

    build = actions.add_parser("build", help="write a dataset from the world or your own tasks")
    build.add_argument("out", type=Path)
    build.add_argument("--seed", type=int, default=0, help="world and task seed")
    build.add_argument("--style", choices=STYLES, default="full")
    build.add_argument("--n", type=int, default=None, help="number of world tasks")
    build.add_argument("--tasks", type=Path, help="JSONL of your own {question, answer, ...}")
    build.add_argument("--instructions", help="developer message for your own tasks")
    build.add_argument("--tools", metavar="URL", help="take the tool specs from this service")
    build.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="header for --tools, e.g. 'Authorization: Bearer ${TOKEN}' (${NAME}: env variable)",
    )
    build.set_defaults(run=_exit_status(_run_build))

    split = actions.add_parser("split", help="stratified train/validation split")
    split.add_argument("file", type=Path)
    split.add_argument("--train", type=Path, required=True)
    split.add_argument("--valid", type=Path, required=True)
    split.add_argument("--valid-fraction", type=float, default=0.2)
    split.add_argument("--seed", type=int, default=0)
    split.add_argument(
        "--by", type=lambda text: tuple(text.split(",")), default=("task_type", "tier")
    )
    split.add_argument(
        "--shared-answer",
        action="append",
        default=[],
        metavar="ANSWER",
        help="an answer different tasks legitimately share (e.g. a flag); repeatable",
    )
    split.set_defaults(run=_exit_status(_run_split))
