"""``rftkit api serve``: the local fine-tuning API on loopback, with a key of its own.

The key comes from ``RFTKIT_API_KEY`` or is generated and printed once. Binding to anything but
loopback needs ``--allow-remote``: the server trains on and calls whatever URLs a job names, so
it is a tool for one machine, not a service to expose. With ``--allow-remote`` (whatever the bind
address) it also stops calling loopback and private addresses, except the origins given with
``--allow-url`` (``rftkit.outbound``); link-local and metadata addresses are never called.

``--warm-start MODULE:FUNCTION`` names a team's reference solver: every job the server trains
starts from a small model warm-started from it through the job's tools (``rftkit.local.warmstart``),
so a team rehearsing its own task through the ``openai`` client gets a model that calls its
tools. It is a server option, not a job field: a module named in a request would be code run for
whoever can reach the API (``rftkit.api.job_store``).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from pathlib import Path

import uvicorn

from rftkit.api.app import create_app, new_api_key
from rftkit.api.job_store import MAX_RUNNING_JOBS
from rftkit.errors import ExitCode
from rftkit.local.warmstart import WarmStartError
from rftkit.outbound import OutboundPolicy, OutboundRefused

KEY_ENV = "RFTKIT_API_KEY"
DEFAULT_PORT = 8100


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _grpo_overrides(pairs: list[str]) -> dict[str, object]:
    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--grpo takes KEY=VALUE, not {pair!r}")
        overrides[key] = json.loads(value)
    return overrides


def _serve(args: argparse.Namespace) -> int:
    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"refusing to bind {args.host}: the local API listens on loopback only; pass "
            "--allow-remote to expose it (anyone who can reach it and has the key can make it "
            "call URLs)"
        )
        return ExitCode.BAD_INPUT
    key = os.environ.get(KEY_ENV)
    if not key:
        key = new_api_key()
        print(f"API key (shown once; or set {KEY_ENV}): {key}")
    try:
        policy = OutboundPolicy.for_server(args.allow_remote, args.allow_url)
    except OutboundRefused as exc:
        print(f"--allow-url: {exc}")
        return ExitCode.BAD_INPUT
    try:
        app = create_app(
            args.data_dir,
            key,
            grpo=_grpo_overrides(args.grpo),
            outbound=policy,
            max_running_jobs=args.max_running_jobs,
            warm_start=args.warm_start,
        )
    except WarmStartError as exc:
        print(exc)
        return ExitCode.BAD_INPUT
    print(f"base_url: http://{args.host}:{args.port}/v1  data: {args.data_dir}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return ExitCode.OK


def register(commands: argparse._SubParsersAction) -> None:
    api = commands.add_parser("api", help="the local OpenAI-compatible fine-tuning API")
    actions = api.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="serve /v1/files, fine_tuning, responses, models")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--data-dir", type=Path, default=Path("rftkit-api"))
    serve.add_argument(
        "--allow-remote", action="store_true",
        help="bind beyond loopback; tool and grader URLs on loopback or private networks are then "
        "refused unless given with --allow-url",
    )  # fmt: skip
    serve.add_argument(
        "--allow-url", action="append", default=[], metavar="URL",
        help="with --allow-remote: an internal origin (scheme://host:port) jobs may call",
    )  # fmt: skip
    serve.add_argument(
        "--max-running-jobs", type=int, default=MAX_RUNNING_JOBS,
        help="jobs that train at once; the rest queue",
    )  # fmt: skip
    serve.add_argument(
        "--grpo", action="append", default=[], metavar="KEY=VALUE",
        help="a GRPO-only setting for every job, e.g. triage_repeats=2",
    )  # fmt: skip
    serve.add_argument(
        "--warm-start", metavar="MODULE:FUNCTION",
        help="a team's reference solver (e.g. my_agent.solver:solve): every job warm-starts a "
        "small model from it through the job's tools, then GRPO (a rehearsal)",
    )  # fmt: skip
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve)
