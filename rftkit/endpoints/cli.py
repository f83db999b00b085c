"""``rftkit endpoints check URL``: the readiness test from the command line, with a CI exit status.

The token is read from an environment variable (``--token-env``, default ``RFTKIT_TOOL_TOKEN``),
never from the command line, so it stays out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rftkit.endpoints import check_endpoint

DEFAULT_TOKEN_ENV = "RFTKIT_TOOL_TOKEN"


def _run_check(args: argparse.Namespace) -> int:
    token = os.environ.get(args.token_env) or None
    print(f"endpoint: {args.url}")
    print(
        f"token: {'from $' + args.token_env if token else 'none ($' + args.token_env + ' unset)'}"
    )
    report = check_endpoint(
        args.url,
        token,
        rollouts=args.rollouts,
        calls=args.calls,
        parallel=args.parallel,
        p99_budget_ms=args.p99_ms,
        timeout=args.timeout,
        call_path=args.call_path,
        tool_path=args.tool_path,
    )
    print(report.text())
    if args.plot and report.burst is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        report.plot().savefig(args.plot, dpi=120)
        print(f"latency plot: {args.plot}")
    return 0 if report.passed else 1


def register(commands: argparse._SubParsersAction) -> None:
    endpoints = commands.add_parser("endpoints", help="readiness tests for tool endpoints")
    actions = endpoints.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="contract check + burst load test; exit 1 if not ready"
    )
    check.add_argument("url", help="base URL, e.g. https://<workspace>--rftkit-tools.modal.run")
    check.add_argument("--token-env", default=DEFAULT_TOKEN_ENV, help="env var holding the token")
    check.add_argument("--rollouts", type=int, default=500, help="simultaneous rollouts (0: none)")
    check.add_argument("--calls", type=int, default=5, help="tool calls per rollout")
    check.add_argument("--parallel", type=int, default=2, help="parallel calls within a rollout")
    check.add_argument("--p99-ms", type=float, default=1000.0, help="p99 latency budget")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    check.add_argument("--call-path", default="/call", help="path that dispatches on name")
    check.add_argument("--tool-path", default="/tools/{name}", help="per-tool URL template")
    check.add_argument("--plot", type=Path, help="save the latency plot here")
    check.set_defaults(run=_run_check)
