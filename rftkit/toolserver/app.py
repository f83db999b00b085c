"""The tool server: a toolbox behind the HTTP contract the Agent RFT trainer calls.

Routes (all but ``/healthz`` need ``Authorization: Bearer <token>``) are in
:mod:`rftkit.toolserver.routes`; a call runs through :class:`~rftkit.toolserver.calls.ToolCaller`
(state, replays, call log, output cap); refusals are :mod:`rftkit.toolserver.errors` (4xx when
the model can fix the call, 503 ``state_unavailable`` when the state store cannot be reached,
500 ``tool_failed`` for a bug).

Authentication: the token comes from ``token=`` or the ``RFTKIT_TOOL_TOKEN`` environment
variable. With neither, or with an empty one (an unset secret often arrives as ``""``),
:func:`create_app` refuses to build an open service unless the caller passes
``allow_no_auth=True`` explicitly (tests and the loopback demo do).

Example::

    app = create_app("docs", toolbox=toolbox, token="s3cret")
    with serve_in_background(app) as url:
        httpx.post(f"{url}/call", headers={"Authorization": "Bearer s3cret"}, json={
            "type": "function_call", "call_id": "call_1", "name": "search_docs",
            "arguments": '{"query": "refunds"}', "trace_id": "trace_1"})

Tools without documents (a database, an API) take no corpus; their resources are handed over
instead and reach each call as ``ctx.resources`` (see :mod:`rftkit.toolserver.resources`)::

    connect = lambda: sqlite3.connect(DB, check_same_thread=False)
    app = create_app(toolbox=orders_toolbox, resources={"db": PerThread(connect)}, token="s3cret")

Several corpora behind one URL (the course serves one per world) come as a :class:`CorpusRoute`:
a function from the call's dataset line (``item``) to its corpus.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr

from rftkit.protocol import MAX_PAYLOAD_BYTES
from rftkit.toolserver.calls import MAX_OUTPUT_BYTES, ToolCaller
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.errors import install_error_handlers
from rftkit.toolserver.guards import BearerAuthMiddleware, BodyLimitMiddleware, resolve_token
from rftkit.toolserver.registry import Toolbox
from rftkit.toolserver.resources import Resources
from rftkit.toolserver.routes import add_call_routes, add_trace_route
from rftkit.toolserver.state import InMemoryStateStore, StateStore

ACCESS_LOG = "rftkit.toolserver.access"
"""The default access logger: one JSON line per tool call (trace_id, call_id, tool, status,
latency). Never headers."""


@dataclass(frozen=True)
class CorpusRoute:
    """Which corpus a call reads: ``pick(item)`` (None for tools without documents; raise a
    :class:`~rftkit.toolserver.errors.ToolServiceError` to refuse the call), and how many files
    the corpora hold in all (``/healthz`` reports it)."""

    pick: Callable[[dict[str, Any]], Corpus | None]
    files: int


def corpus_route(corpus: str | Path | Corpus | CorpusRoute | None) -> CorpusRoute:
    """One corpus (a directory or a loaded Corpus) for every call, none, or a given route."""
    if isinstance(corpus, CorpusRoute):
        return corpus
    if corpus is None:
        return CorpusRoute(lambda item: None, 0)
    loaded = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus)
    return CorpusRoute(lambda item: loaded, len(loaded.files))


def create_app(
    corpus: str | Path | Corpus | CorpusRoute | None = None,
    *,
    toolbox: Toolbox,
    token: str | None = None,
    store: StateStore | None = None,
    resources: Resources | Mapping[str, Any] | None = None,
    allow_no_auth: bool = False,
    max_body_bytes: int = MAX_PAYLOAD_BYTES,
    max_output_bytes: int = MAX_OUTPUT_BYTES,
    run_tools_in_threads: bool = False,
    access_log: logging.Logger | None = None,
) -> FastAPI:
    """Build the tool server: ``toolbox``'s tools over their documents and resources.

    ``corpus`` (a directory, an already loaded Corpus, or a :class:`CorpusRoute`) is for tools
    that read documents (``ctx.corpus``); tools over a database, an internal API or a computation
    need none and get ``resources`` instead (``ctx.resources``: name → value; wrap a value that
    must not cross threads, such as a sqlite3 connection, in
    :class:`~rftkit.toolserver.resources.PerThread`). Per-thread resources are closed when the
    app shuts down.

    Tools run on the event loop by default: pure-CPU tools take microseconds, and under the GIL
    a thread hop adds cost without adding parallelism (the course's benchmark measured it). Pass
    ``run_tools_in_threads=True`` when a tool blocks on I/O or may run long, so that other
    rollouts' calls and ``/healthz`` keep being answered meanwhile.
    """
    route = corpus_route(corpus)
    shared = resources if isinstance(resources, Resources) else Resources(resources)
    expected_token = resolve_token(token, allow_no_auth)
    store = store if store is not None else InMemoryStateStore()
    caller = ToolCaller(
        toolbox,
        route.pick,
        shared,
        store,
        access_log or logging.getLogger(ACCESS_LOG),
        max_output_bytes,
        run_tools_in_threads,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        shared.close()

    app = FastAPI(
        title="rftkit tool service",
        summary="Agent RFT tool endpoints.",
        strict_content_type=False,
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    if expected_token is not None:  # outermost: an unauthenticated body is never read
        app.add_middleware(
            BearerAuthMiddleware,
            token=SecretStr(expected_token),
            open_paths=frozenset({"/healthz"}),
        )
    app.state.store = store
    app.state.toolbox = toolbox
    app.state.resources = shared
    add_call_routes(app, caller, route.files)
    add_trace_route(app, store)
    install_error_handlers(app, max_body_bytes)
    return app
