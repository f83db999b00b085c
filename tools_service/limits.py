"""Refuse request bodies over the trainer's 1 MB limit with a 413 the model can read.

FastAPI's own ``max_body_size`` answers a plain-text ``Content Too Large`` and, when the request
declares its length, replaces any other reply with it; the trainer shows 4xx bodies to the model,
so the service needs the same :class:`~rftkit.protocol.ToolError` JSON as every other refusal.
This middleware answers a declared oversize body before reading it, and stops a streamed
(chunked) one as soon as it crosses the limit by raising an ``HTTPException(413)`` that the
app's exception handler renders.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rftkit.protocol import ToolError, ToolErrorDetail


def too_large_body(limit: int) -> dict:
    """The ToolError body of a 413."""
    detail = ToolErrorDetail(
        code="payload_too_large", message=f"request body is over the limit of {limit} bytes"
    )
    return ToolError(error=detail).model_dump()


class BodyLimitMiddleware:
    """Pure ASGI middleware: 413 with a ToolError body above ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await JSONResponse(too_large_body(self.limit), status_code=413)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, "request body over the limit")
            return message

        await self.app(scope, receive_within_limit, send)
