"""``rftkit graders``: print, validate, run and serve grader configs from JSON files.

Every command reads the same grader JSON a job submits, so a team can check a config in CI
(``rftkit graders validate grader.json``) and serve it as an endpoint grader without writing
code. Errors name the file and the field; tokens are read from an environment variable, never
from the command line (where ``ps`` and shell history would show them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from rftkit.errors import ExitCode


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"{path}: no such {what} file") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None


# rftkit.graders is imported inside each command so `rftkit --help` stays fast.


def _run_course(args: argparse.Namespace) -> int:
    from rftkit.course.grader import course_grader, naive_grader

    print(json.dumps(naive_grader() if args.naive else course_grader(), indent=2))
    return ExitCode.OK


def _run_validate(args: argparse.Namespace) -> int:
    from rftkit.graders import (
        GraderValidationError,
        GraderValidationWarning,
        grader_warnings,
        validate_grader,
    )

    grader = _load_json(args.grader, "grader")
    try:
        with warnings.catch_warnings():  # printed below as lines naming the file
            warnings.simplefilter("ignore", GraderValidationWarning)
            validate_grader(grader, purpose=args.purpose)
    except GraderValidationError as exc:
        print(f"{args.grader}: {exc}", file=sys.stderr)
        return ExitCode.CHECKS_FAILED
    for message in grader_warnings(grader):
        print(f"{args.grader}: warning: {message}", file=sys.stderr)
    print(f"{args.grader}: valid")
    return ExitCode.OK


def _tool_calls(path: Path) -> list[Any]:
    """The calls in a ``--tools-file``: a JSON list of ``{"name", "arguments"}`` (arguments an
    object or a JSON string) or of chat-completions ``tool_calls`` entries, as
    ``sample.output_tools`` holds them; errors name the file and the entry."""
    from pydantic import ValidationError

    from rftkit.protocol import ToolCall

    calls = _load_json(path, "tools")
    if not isinstance(calls, list):
        raise SystemExit(f"{path}: expected a JSON list of tool calls, got {type(calls).__name__}")
    found = []
    for index, call in enumerate(calls):
        if not isinstance(call, dict) or not {"name", "function"} & set(call):
            raise SystemExit(
                f"{path}: [{index}]: a tool call needs 'name' and 'arguments' "
                "(or a chat-completions 'function')"
            )
        if "function" not in call:
            arguments = call.get("arguments", {})
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            call = {"id": call.get("id", f"call_{index}"), "type": "function",
                    "function": {"name": call["name"], "arguments": text}}  # fmt: skip
        try:
            found.append(ToolCall.model_validate(call))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise SystemExit(f"{path}: [{index}].{where}: {problem['msg']}") from None
    return found


def _run_run(args: argparse.Namespace) -> int:
    from rftkit.graders import GraderValidationError, run_grader
    from rftkit.protocol import Sample

    grader = _load_json(args.grader, "grader")
    item = _load_json(args.item, "item") if args.item else {}
    tools = _tool_calls(args.tools_file) if args.tools_file else []
    try:
        result = run_grader(grader, Sample.from_text(args.sample, tools), item)
    except GraderValidationError as exc:
        print(f"{args.grader}: {exc}", file=sys.stderr)
        return ExitCode.CHECKS_FAILED
    print(result.model_dump_json(indent=2))
    return ExitCode.OK


def _run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from rftkit.graders import GraderValidationError
    from rftkit.graders.isolation import IsolationUnavailable
    from rftkit.graders.server import create_grader_app, server_options

    token = os.environ.get(args.token_env)
    if token is None and not args.no_auth:
        print(f"set {args.token_env} (or pass --no-auth for loopback development)", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        app = create_grader_app(
            _load_json(args.grader, "grader"),
            token=token,
            require_isolation=not args.allow_in_process,
        )
    except (GraderValidationError, IsolationUnavailable) as exc:
        print(f"{args.grader}: {exc}", file=sys.stderr)
        return ExitCode.CHECKS_FAILED
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, **server_options())
    return ExitCode.OK


def register(commands: argparse._SubParsersAction) -> None:
    graders = commands.add_parser("graders", help="OpenAI grader configs, run locally")
    actions = graders.add_subparsers(dest="action", required=True, metavar="ACTION")

    course = actions.add_parser("course", help="print the course's grader config")
    course.add_argument("--naive", action="store_true", help="the naive one instead")
    course.set_defaults(run=_run_course)

    validate = actions.add_parser("validate", help="check a grader JSON file")
    validate.add_argument("grader", type=Path)
    validate.add_argument("--purpose", choices=("rft", "evals"), default="rft")
    validate.set_defaults(run=_run_validate)

    run = actions.add_parser("run", help="grade one sample, print the graders.run-shaped result")
    run.add_argument("grader", type=Path)
    run.add_argument("--sample", required=True, help="the model's output text")
    run.add_argument("--item", type=Path, help="a JSON file holding the dataset line")
    run.add_argument(
        "--tools-file",
        type=Path,
        help='JSON list of the tool calls made: [{"name": ..., "arguments": {...}}, ...] '
        "(sample.output_tools), for graders with an efficiency or tool term",
    )
    run.set_defaults(run=_run_run)

    serve = actions.add_parser("serve", help="serve a grader as an endpoint grader (POST /grade)")
    serve.add_argument("grader", type=Path)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--token-env", default="GRADER_TOKEN", help="variable holding the token")
    serve.add_argument("--no-auth", action="store_true")
    serve.add_argument(
        "--allow-in-process",
        action="store_true",
        help="serve python graders without namespaces (in-process checks only)",
    )
    serve.set_defaults(run=_run_serve)
