"""``rftkit tools serve``: run the course's tool service locally with one command.

The token is read from ``RFTKIT_TOOL_TOKEN``; the command says where the token comes from and
prints its value only when asked to generate one (``--generate-token``). ``--no-auth`` is allowed
on loopback only, so an open service is never exposed by accident.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import sys
from pathlib import Path

import uvicorn

from rftkit.course.world import STYLES, generate_world, write_corpus
from rftkit.errors import ExitCode
from tools_service.app import TOKEN_ENV, create_app


def world_corpus(seed: int, style: str, directory: Path) -> Path:
    """Write the seeded world's corpus under ``directory/seed-N/style`` (if not there yet)."""
    target = directory / f"seed-{seed}" / style
    if not target.is_dir():
        write_corpus(generate_world(seed=seed), target, style=style)
    return target


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _run_serve(args: argparse.Namespace) -> int:
    corpus = args.corpus or world_corpus(args.seed, args.style, args.world_dir)
    token = os.environ.get(TOKEN_ENV) or None
    if token:
        where = f"token: from ${TOKEN_ENV}"
    elif args.generate_token:
        token = secrets.token_urlsafe(32)
        where = f"token (generated because you asked; export it as {TOKEN_ENV}): {token}"
    elif args.no_auth and _is_loopback(args.host):
        where = "token: none (--no-auth, loopback only)"
    elif args.no_auth:
        print(f"--no-auth is refused on non-loopback host {args.host}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    else:
        print(
            f"no token: set {TOKEN_ENV}, or pass --generate-token, or --no-auth on loopback",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    app = create_app(corpus, token=token, allow_no_auth=token is None)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tools_service.access").setLevel(logging.INFO)
    print(f"corpus: {corpus}")
    print(f"serving {len(app.state.toolbox)} tools at http://{args.host}:{args.port}")
    print("  POST /call  POST /tools/{name}  GET /tools  GET /traces/{trace_id}  GET /healthz")
    print(where, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")
    return ExitCode.OK


def register(commands: argparse._SubParsersAction) -> None:
    tools = commands.add_parser("tools", help="the course's tool service")
    actions = tools.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="serve the tools over HTTP (Agent RFT wire format)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--corpus", type=Path, help="a corpus directory to serve")
    source.add_argument("--seed", type=int, default=0, help="world seed when no --corpus")
    serve.add_argument("--style", choices=STYLES, default="compact")
    serve.add_argument("--world-dir", type=Path, default=Path("runs/tools-world"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--generate-token", action="store_true", help="make a token and print it")
    serve.add_argument("--no-auth", action="store_true", help="serve without a token (loopback)")
    serve.set_defaults(run=_run_serve)
