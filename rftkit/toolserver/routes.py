"""The tool server's routes: the HTTP contract the Agent RFT trainer calls.

- ``GET /healthz`` — liveness, for load balancers and pre-warming; no auth, no secrets.
- ``GET /tools`` — the chat-completions function specs (a dataset line's ``tools`` array).
- ``POST /call`` — a :class:`~rftkit.protocol.FunctionCall`, dispatched on its ``name``.
- ``POST /tools/{name}`` — the same, one URL per tool (the job's ``server_url`` per tool).
- ``GET /traces/{trace_id}`` — the rollout's call log and tool state, so an endpoint grader
  that receives the ``trace_id`` can score the whole trajectory (e.g. tool-call efficiency).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from rftkit.protocol import FunctionCall, FunctionCallOutput, ToolError
from rftkit.toolserver.calls import ToolCaller
from rftkit.toolserver.errors import ERROR_STATUSES, ToolServiceError
from rftkit.toolserver.state import StateStore

CALL_ROUTE: dict[str, Any] = {
    "response_model": FunctionCallOutput,
    "responses": {code: {"model": ToolError} for code in ERROR_STATUSES},
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FunctionCall.model_json_schema()}},
        }
    },
}
"""The OpenAPI description of both call routes (the body is parsed by hand, in one pass)."""


async def read_call(request: Request) -> FunctionCall:
    """The body parsed straight into the wire model by pydantic-core (one pass, no dict)."""
    try:
        return FunctionCall.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def add_call_routes(app: FastAPI, caller: ToolCaller, corpus_files: int) -> None:
    """``/healthz``, ``/tools``, ``/call`` and ``/tools/{name}`` over ``caller``'s toolbox."""
    toolbox = caller.toolbox

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness: answers without auth and without touching state."""
        return {"status": "ok", "tools": toolbox.names, "files": corpus_files}

    @app.get("/tools")
    async def list_tools() -> list[dict[str, Any]]:
        """The function specs the model sees: a dataset line's ``tools`` array."""
        return toolbox.specs()

    @app.post("/call", **CALL_ROUTE)
    async def call_any(request: Request) -> JSONResponse:
        """One tool call, dispatched on its ``name``."""
        call = await read_call(request)
        return await caller.dispatch(call, call.name)

    @app.post("/tools/{name}", **CALL_ROUTE)
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
        return await caller.dispatch(call, name)


def add_trace_route(app: FastAPI, store: StateStore) -> None:
    """``GET /traces/{trace_id}``: a live rollout's call log and tool state."""

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
