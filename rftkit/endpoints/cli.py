"""``rftkit endpoints check URL``: the readiness test from the command line, with a CI exit status.

Exit status 0 when ready (notes allowed), 1 when there is a blocker, 2 when the check could not
run (a bad option, an unreadable tools file). Secrets stay out of shell history and output:
``--header 'Authorization: Bearer ${TOOL_TOKEN}'`` reads the variable (single quotes keep the shell
from expanding it), ``$RFTKIT_TOOL_TOKEN`` (or ``--token-env``) is the bearer token when no
Authorization header is given, and every value is masked in what is printed.

The probes come from the service's own tools: ``GET {url}/tools``, or ``--tools-from`` a JSON file
of specs, a dataset (JSONL, the ``tools`` of its lines) or a URL serving the list; and
``--probe NAME='{"json": "arguments"}'`` gives a call that must succeed. ``--items-from DATASET``
sends the dataset's lines as the calls' ``item``, for services that read their task from it.
A stateful tool (one that needs an earlier call in the same rollout) is checked with
``--sequence '[{"name": "lookup_order", "arguments": {...}}, {"name": "compute_refund", ...}]'``,
calls replayed in order under one trace id, or ``--probes-from build/task.json``, the task's
stored probes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from rftkit.endpoints import check_endpoint
from rftkit.endpoints.examples import SpecError, spec_name_and_schema
from rftkit.errors import ExitCode
from rftkit.secrets import HeaderError, Redactor, parse_headers, secrets_of, with_token
from rftkit.task import ProbeCall, parse_scenario

DEFAULT_TOKEN_ENV = "RFTKIT_TOOL_TOKEN"


class _CannotRun(ValueError):
    """What stops the check before it starts (exit status 2)."""


def _specs_from(source: str, headers: dict[str, str], timeout: float) -> list[dict[str, Any]]:
    """Tool specs from a URL serving a list, a JSON file (list or one line) or a JSONL dataset."""
    if source.startswith(("http://", "https://")):
        try:
            response = httpx.get(source, headers=headers, timeout=timeout)
            response.raise_for_status()
            specs = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _CannotRun(f"--tools-from: no list of specs ({type(exc).__name__})") from None
        if not isinstance(specs, list):
            raise _CannotRun(f"--tools-from: the URL answered {type(specs).__name__}, not a list")
        return specs
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _CannotRun(f"--tools-from {path}: cannot read ({exc})") from None
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise _CannotRun(f"--tools-from {path}, line {number}: {exc.msg}") from None
    by_name: dict[str, dict[str, Any]] = {}
    for document in documents:
        specs = document if isinstance(document, list) else None
        if isinstance(document, dict):
            specs = document.get("tools")
        if not isinstance(specs, list):
            raise _CannotRun(
                f"--tools-from {path}: expected a list of tool specs or lines with a 'tools' array"
            )
        for spec in specs:
            try:
                name = spec_name_and_schema(spec)[0]
            except SpecError as exc:
                raise _CannotRun(f"--tools-from {path}: a tool spec {exc}") from None
            by_name.setdefault(name, spec)
    return list(by_name.values())


MAX_ITEMS = 100
"""Dataset lines read by ``--items-from``: enough to vary the calls, bounded in memory."""


def _items_from(path: Path) -> list[dict[str, Any]]:
    """The first MAX_ITEMS lines of a dataset (JSONL), sent as the calls' ``item``."""
    items: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if len(items) == MAX_ITEMS:
                    break
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _CannotRun(f"--items-from {path}, line {number}: {exc.msg}") from None
                if not isinstance(item, dict):
                    raise _CannotRun(f"--items-from {path}, line {number}: not a JSON object")
                items.append(item)
    except (OSError, UnicodeDecodeError) as exc:
        raise _CannotRun(f"--items-from {path}: cannot read ({exc})") from None
    return items


def parse_probes(options: list[str]) -> dict[str, dict[str, Any]]:
    """``["search={\"query\": \"revenue\"}"]`` → ``{"search": {"query": "revenue"}}`` (the
    ``--probe`` options of ``endpoints check`` and ``jobs preflight/launch``); ValueError naming
    the option otherwise."""
    examples: dict[str, dict[str, Any]] = {}
    for option in options:
        name, equals, arguments = option.partition("=")
        if not equals or not name.strip():
            raise _CannotRun(f"--probe {name.strip()[:40]!r}: expected NAME='{{json arguments}}'")
        try:
            value = json.loads(arguments)
        except json.JSONDecodeError as exc:
            message = f"--probe {name.strip()}: arguments are not JSON ({exc.msg})"
            raise _CannotRun(message) from None
        if not isinstance(value, dict):
            raise _CannotRun(f"--probe {name.strip()}: arguments must be a JSON object")
        examples[name.strip()] = value
    return examples


def parse_sequences(options: list[str], flag: str = "--sequence") -> list[list[ProbeCall]]:
    """Each ``--sequence`` option, a JSON list of calls; ValueError naming the option and call."""
    sequences = []
    for index, option in enumerate(options):
        try:
            value = json.loads(option)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{flag} #{index}: not JSON ({exc.msg})") from None
        sequences.append(parse_scenario(value, f"{flag} #{index}"))
    return sequences


def _stored_probes(path: Path) -> list[list[ProbeCall]]:
    """The probes stored in a task file (``--probes-from``)."""
    from rftkit.task import RFTTask

    try:
        return RFTTask.load(path).probes
    except ValueError as exc:
        raise _CannotRun(f"--probes-from: {exc}") from None


def _run_check(args: argparse.Namespace) -> int:
    try:
        given = parse_headers(args.header or [])
        headers = with_token(given, args.token_env)
        specs = _specs_from(args.tools_from, headers, args.timeout) if args.tools_from else None
        examples = parse_probes(args.probe or [])
        items = _items_from(args.items_from) if args.items_from else []
        sequences = parse_sequences(args.sequence or [])
        sequences += _stored_probes(args.probes_from) if args.probes_from else []
    except (HeaderError, _CannotRun, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    redact = Redactor(secrets_of(headers, [args.url]))
    print(f"endpoint: {redact(args.url)}")
    sources = [f"{name} (--header)" for name in given]
    if "Authorization" in headers and "Authorization" not in given:
        sources.append(f"Authorization (bearer token from ${args.token_env})")
    print(f"headers: {', '.join(sources) or 'none ($' + args.token_env + ' unset)'}")
    try:
        report = check_endpoint(
            args.url,
            headers=headers,
            tools=specs,
            examples=examples,
            items=items,
            tool_path=args.tool_path,
            rollouts=args.rollouts,
            calls=args.calls,
            parallel=args.parallel,
            p99_budget_ms=args.p99_ms,
            timeout=args.timeout,
            sequences=sequences,
        )
    except ValueError as exc:  # a job tool or spec that cannot be checked; names what and where
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(report.text())
    if args.plot and report.burst is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        report.plot().savefig(args.plot, dpi=120)
        print(f"latency plot: {args.plot}")
    return ExitCode.OK if report.ready else ExitCode.CHECKS_FAILED


def register(commands: argparse._SubParsersAction) -> None:
    endpoints = commands.add_parser("endpoints", help="readiness tests for tool endpoints")
    actions = endpoints.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="contract check + burst load test; exit 1 on a blocker"
    )
    check.add_argument("url", help="base URL, e.g. https://<workspace>--rftkit-tools.modal.run")
    check.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="header the job sends, e.g. 'Authorization: Bearer ${TOKEN}' (${NAME}: env variable)",
    )
    check.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        help="env var holding a bearer token, used when no Authorization --header is given",
    )
    check.add_argument(
        "--tools-from",
        metavar="FILE_OR_URL",
        help="tool specs: JSON list, dataset JSONL or URL (default: GET URL/tools)",
    )
    check.add_argument(
        "--probe",
        action="append",
        metavar="NAME='{...}'",
        help="example arguments for a tool that must succeed (instead of generated ones)",
    )
    check.add_argument(
        "--sequence",
        action="append",
        metavar='\'[{"name": ..., "arguments": {...}}, ...]\'',
        help="calls replayed in order under one trace id, for tools that need earlier calls",
    )
    check.add_argument(
        "--probes-from",
        type=Path,
        metavar="TASK_JSON",
        help="replay the probes stored in a task file (task.json) as sequences",
    )
    check.add_argument(
        "--items-from",
        type=Path,
        metavar="DATASET",
        help="RFT JSONL whose lines are sent as the calls' item, as the trainer does",
    )
    check.add_argument(
        "--tool-path",
        default="/tools/{name}",
        help="each tool's path under URL: /tools/{name}, /{name} (build-hours), /call (shared)",
    )
    check.add_argument("--rollouts", type=int, default=500, help="simultaneous rollouts (0: none)")
    check.add_argument("--calls", type=int, default=5, help="tool calls per rollout")
    check.add_argument("--parallel", type=int, default=2, help="parallel calls within a rollout")
    check.add_argument("--p99-ms", type=float, default=1000.0, help="p99 latency budget")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    check.add_argument("--plot", type=Path, help="save the latency plot here")
    check.set_defaults(run=_run_check)
