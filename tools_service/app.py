"""The tool service: the course's tools behind the HTTP contract the Agent RFT trainer calls.

Routes (all but ``/healthz`` need ``Authorization: Bearer <token>``):

- ``GET /healthz`` — liveness, for load balancers and pre-warming; no auth, no secrets.
- ``GET /tools`` — the chat-completions function specs (a dataset line's ``tools`` array).
- ``POST /call`` — a :class:`~rftkit.protocol.FunctionCall`, dispatched on its ``name``.
- ``POST /tools/{name}`` — the same, one URL per tool (the job's ``server_url`` per tool).
- ``GET /traces/{trace_id}`` — the rollout's call log and tool state, so an endpoint grader
  that receives the ``trace_id`` can score the whole trajectory (e.g. tool-call efficiency).

Replies are :class:`~rftkit.protocol.FunctionCallOutput`. Failures answer a
:class:`~rftkit.protocol.ToolError` body: 4xx when the model can fix the call (the trainer
shows the body to the model), 5xx only when retrying could help or the service itself is broken
(the trainer retries 3 times, then discards the whole rollout rather than scoring it 0): 503
``state_unavailable`` when the state store cannot be reached, 500 ``tool_failed`` for a bug.

Authentication: the token comes from ``token=`` or the ``RFTKIT_TOOL_TOKEN`` environment
variable. With neither, or with an empty one (an unset secret often arrives as ``""``),
:func:`create_app` refuses to build an open service unless the caller passes
``allow_no_auth=True`` explicitly (tests and the loopback demo do).

Example::

    app = create_app("world/compact", token="s3cret")
    with serve_in_background(app) as url:
        httpx.post(f"{url}/call", headers={"Authorization": "Bearer s3cret"}, json={
            "type": "function_call", "call_id": "call_1", "name": "calculator",
            "arguments": '{"expression": "2 + 3"}', "trace_id": "trace_1"})

Tools without documents (a database, an API) take no corpus; their resources are handed over
instead and reach each call as ``ctx.resources`` (see ``tools_service.resources``)::

    connect = lambda: sqlite3.connect(DB, check_same_thread=False)
    app = create_app(toolbox=orders_toolbox, resources={"db": PerThread(connect)}, token="s3cret")
"""

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rftkit.errors import RFTKitError
from rftkit.protocol import (
    MAX_PAYLOAD_BYTES,
    FunctionCall,
    FunctionCallOutput,
    ToolError,
    ToolErrorDetail,
)
from tools_service import tools
from tools_service.corpus import Corpus
from tools_service.guards import BearerAuthMiddleware, BodyLimitMiddleware, too_large_body
from tools_service.registry import Toolbox, ToolContext, ToolInputError
from tools_service.resources import Resources
from tools_service.state import InMemoryStateStore, StateStore, TraceRecord

TOKEN_ENV = "RFTKIT_TOOL_TOKEN"
MAX_OUTPUT_BYTES = MAX_PAYLOAD_BYTES - 4_096
"""Largest ``output`` (JSON-encoded) that still leaves room for the reply's envelope under 1 MB."""

ERROR_STATUSES = (400, 401, 404, 409, 413, 422, 500, 503)
"""Every status a call can be refused with; each answers a ToolError body."""

access_log = logging.getLogger("tools_service.access")
"""One JSON line per tool call: trace_id, call_id, tool, status, latency. Never headers."""

_log = logging.getLogger(__name__)


class _ToolCrashed(Exception):
    """A tool raised something other than ToolInputError, or returned a non-string: a bug."""


class ToolServiceError(RFTKitError):
    """A refusal with its HTTP status; rendered as a ToolError body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = ToolErrorDetail(code=code, message=message, param=param, retryable=retryable)

    def body(self) -> dict[str, Any]:
        return ToolError(error=self.detail).model_dump()


def _error_response(error: ToolServiceError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def truncate_output(text: str, max_bytes: int = MAX_OUTPUT_BYTES) -> str:
    """``text``, or its head plus a visible marker, so that its JSON encoding fits ``max_bytes``."""
    size = _encoded_size(text)
    keep = len(text)
    while size > max_bytes and keep > 0:
        keep = max(0, min(keep - 1, int(keep * max_bytes / size * 0.95)))
        candidate = (
            f"{text[:keep]}\n[output truncated by the tool service: showing {keep} of "
            f"{len(text)} characters; ask for less, e.g. a smaller top_k or a narrower query]"
        )
        size = _encoded_size(candidate)
        text = candidate if size <= max_bytes else text
    return text


def _json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON (what a logged call costs the state store)."""
    return len(json.dumps(value, ensure_ascii=False, default=repr).encode())


def _encoded_size(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode())


def _resolve_token(token: str | None, allow_no_auth: bool) -> str | None:
    """The token to require, or None for an open service (only when ``allow_no_auth``)."""
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    if not token:  # None or "": an empty token would let a request without a header through
        if not allow_no_auth:
            raise RuntimeError(
                f"no bearer token (unset or empty): set {TOKEN_ENV} or pass token=...; pass "
                "allow_no_auth=True only for a service on loopback (tests, the local demo)"
            )
        return None
    return token


def _corpus_router(
    corpus_dir: str | Path | Corpus | Mapping[int, Corpus] | None,
) -> tuple[Callable[[dict[str, Any]], Corpus | None], int]:
    """The corpus a call reads (the one corpus, its item's world's among several, or none for
    tools without documents), and how many files they hold in all."""
    if corpus_dir is None:
        return (lambda item: None), 0
    if isinstance(corpus_dir, Mapping):
        corpora = dict(corpus_dir)

        def by_world(item: dict[str, Any]) -> Corpus:
            seed = item.get("world_seed")
            if isinstance(seed, int) and not isinstance(seed, bool) and seed in corpora:
                return corpora[seed]
            raise ToolServiceError(
                400,
                "unknown_world",
                f"this service serves worlds {sorted(corpora)}; the call's item.world_seed is "
                f"{seed!r}",
                param="item.world_seed",
            )

        return by_world, sum(len(c.files) for c in corpora.values())
    corpus = corpus_dir if isinstance(corpus_dir, Corpus) else Corpus.load(corpus_dir)
    return (lambda item: corpus), len(corpus.files)


def create_app(
    corpus_dir: str | Path | Corpus | Mapping[int, Corpus] | None = None,
    *,
    token: str | None = None,
    store: StateStore | None = None,
    toolbox: Toolbox = tools.toolbox,
    resources: Resources | Mapping[str, Any] | None = None,
    allow_no_auth: bool = False,
    max_body_bytes: int = MAX_PAYLOAD_BYTES,
    max_output_bytes: int = MAX_OUTPUT_BYTES,
    run_tools_in_threads: bool = False,
) -> FastAPI:
    """Build the tool service: ``toolbox``'s tools over their documents and resources.

    ``corpus_dir`` (a directory, or an already loaded Corpus) is for tools that read documents
    (``ctx.corpus``); tools over a database, an internal API or a computation need none and get
    ``resources`` instead (``ctx.resources``: name → value; wrap a value that must not cross
    threads, such as a sqlite3 connection, in :class:`~tools_service.resources.PerThread`).
    Per-thread resources are closed when the app shuts down.

    A mapping ``{world_seed: Corpus}`` serves several worlds from one URL: each call reads the
    corpus of its dataset line's ``world_seed`` (the trainer sends the line as ``item``), so one
    job-level tools config serves a task whose lines come from several worlds.

    Tools run on the event loop by default: the course's tools are pure CPU and take
    microseconds, and under the GIL a thread hop adds cost without adding parallelism (the
    benchmark measured it). Pass ``run_tools_in_threads=True`` when a tool blocks on I/O or may
    run long, so that other rollouts' calls and ``/healthz`` keep being answered meanwhile.
    """
    if corpus_dir is None and toolbox is tools.toolbox:
        raise ValueError(
            "the course's tools read documents: pass corpus_dir, or pass toolbox= with your own "
            "tools (and resources= for what they use)"
        )
    corpus_for, corpus_files = _corpus_router(corpus_dir)
    shared = resources if isinstance(resources, Resources) else Resources(resources)
    expected_token = _resolve_token(token, allow_no_auth)
    store = store if store is not None else InMemoryStateStore()

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

    def run_tool(record: TraceRecord, call: FunctionCall, name: str) -> tuple[int, dict]:
        """Execute one call; the reply's status and body."""
        if name not in toolbox:
            raise ToolServiceError(
                404,
                "unknown_tool",
                f"unknown tool {name!r}; this endpoint serves: {', '.join(toolbox.names)}",
                param="name",
            )
        ctx = ToolContext(
            corpus=corpus_for(call.item),
            trace_id=call.trace_id,
            state=record.state,
            item=call.item,
            resources=shared,
        )
        try:
            output = toolbox[name](ctx, call.parsed_arguments())
        except ToolInputError as exc:
            status = 404 if exc.code == "not_found" else 400
            raise ToolServiceError(status, exc.code, str(exc), param=exc.param) from None
        except Exception as exc:
            raise _ToolCrashed(f"tool {name!r} raised {type(exc).__name__}") from exc
        if not isinstance(output, str):
            raise _ToolCrashed(f"tool {name!r} returned {type(output).__name__}, not str")
        reply = FunctionCallOutput.answering(call, truncate_output(output, max_output_bytes))
        return 200, reply.model_dump()

    async def dispatch(call: FunctionCall, name: str) -> JSONResponse:
        started = time.perf_counter()
        status, replayed = 500, False
        try:
            async with store.lock(call.trace_id):
                record = await store.load(call.trace_id)
                arguments = call.parsed_arguments()
                fingerprint = {"name": name, "arguments": arguments}
                cached = record.replies.get(call.call_id)
                if cached is not None and cached["fingerprint"] != fingerprint:
                    error = ToolServiceError(
                        409,
                        "call_id_reused",
                        f"call_id {call.call_id!r} was already used in this rollout for a "
                        "different call; each call needs its own call_id",
                        param="call_id",
                    )
                    status, body = error.status, error.body()
                elif cached is not None:
                    status, body, replayed = cached["status"], cached["body"], True
                else:
                    try:
                        status, body = (
                            await anyio.to_thread.run_sync(run_tool, record, call, name)
                            if run_tools_in_threads
                            else run_tool(record, call, name)
                        )
                    except ToolServiceError as error:
                        status, body = error.status, error.body()
                    record.replies[call.call_id] = {
                        "fingerprint": fingerprint,
                        "status": status,
                        "body": body,
                    }
                entry = {
                    "call_id": call.call_id,
                    "tool": name,
                    "arguments": arguments,
                    "status": status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "replayed": replayed,
                }
                record.log(entry, _json_size(arguments) + _json_size(body))
                await store.save(record)
            return JSONResponse(body, status_code=status)
        except _ToolCrashed:
            # A bug: retrying will not help, but a 5xx is still right — the trainer retries, then
            # discards the rollout instead of training the model on the service's failure.
            _log.exception("tool call crashed (tool %r)", name)
            status = 500
            raise ToolServiceError(
                500,
                "tool_failed",
                "the tool failed on this call; this is a bug in the service, not in the call",
            ) from None
        except Exception:
            # The state store failed (e.g. modal.Dict unreachable): transient, worth a retry.
            _log.exception("state store failed (tool %r)", name)
            status = 503
            raise ToolServiceError(
                503,
                "state_unavailable",
                "the service could not reach its state store; retry the call",
                retryable=True,
            ) from None
        finally:
            if access_log.isEnabledFor(logging.INFO):
                entry = {
                    "trace_id": call.trace_id,
                    "call_id": call.call_id,
                    "tool": name,
                    "status": status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "replayed": replayed,
                }
                access_log.info(json.dumps(entry), extra={"tool_call": entry})

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness: answers without auth and without touching state."""
        return {"status": "ok", "tools": toolbox.names, "files": corpus_files}

    @app.get("/tools")
    async def list_tools() -> list[dict[str, Any]]:
        """The function specs the model sees: a dataset line's ``tools`` array."""
        return toolbox.specs()

    async def read_call(request: Request) -> FunctionCall:
        """The body parsed straight into the wire model by pydantic-core (one pass, no dict)."""
        try:
            return FunctionCall.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None

    call_route = {
        "response_model": FunctionCallOutput,
        "responses": {
            code: {"model": ToolError} for code in (400, 401, 404, 409, 413, 422, 500, 503)
        },
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": FunctionCall.model_json_schema()}},
            }
        },
    }

    @app.post("/call", **call_route)
    async def call_any(request: Request) -> JSONResponse:
        """One tool call, dispatched on its ``name``."""
        call = await read_call(request)
        return await dispatch(call, call.name)

    @app.post("/tools/{name}", **call_route)
    async def call_named(name: str, request: Request) -> JSONResponse:
        """One tool call on the tool's own URL; the body's ``name`` must match the URL."""
        call = await read_call(request)
        if call.name != name:
            raise ToolServiceError(
                400,
                "name_mismatch",
                f"this URL serves {name!r} but the call names {call.name!r}; check the job's "
                "tools config",
                param="name",
            )
        return await dispatch(call, name)

    @app.get("/traces/{trace_id}")
    async def trace(
        trace_id: Annotated[str, PathParam(min_length=1, max_length=256)],
    ) -> dict[str, Any]:
        """The rollout's call log (in arrival order) and tool state, for trajectory graders.

        An unknown id is answered before any lock is taken, so probing ids leaves nothing behind.
        """
        unknown = ToolServiceError(
            404, "unknown_trace", "no live rollout with this trace_id", param="trace_id"
        )
        if await store.peek(trace_id) is None:
            raise unknown
        async with store.lock(trace_id):
            record = await store.peek(trace_id)
            if record is None:  # expired while we waited for the lock
                raise unknown
            return {
                "trace_id": record.trace_id,
                "calls": list(record.calls),
                "state": json.loads(json.dumps(record.state, default=repr)),
            }

    @app.exception_handler(ToolServiceError)
    async def on_tool_service_error(request: Request, error: ToolServiceError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = [str(p) for p in first["loc"] if p != "body"]
        param = ".".join(where) or None
        # pydantic prefixes a validator's own message with "Value error, "; the model needs none.
        reason = str(first.get("ctx", {}).get("error", first["msg"]))
        # Bad ``arguments`` JSON is the model's mistake; any other field is the caller's.
        if where[:1] == ["arguments"]:
            refusal = ToolServiceError(
                400, "invalid_arguments", f"arguments {reason}", param="arguments"
            )
        else:
            refusal = ToolServiceError(
                422, "invalid_request", f"{param or 'body'}: {reason}", param=param
            )
        return _error_response(refusal)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 413:
            return JSONResponse(too_large_body(max_body_bytes), status_code=413)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return _error_response(ToolServiceError(error.status_code, code, str(error.detail)))

    return app
