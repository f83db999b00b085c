"""Guards that run before routing: the bearer token, and the trainer's 1 MB body limit.

Both are pure ASGI middleware: they see every request once, cost a header lookup, and answer
with the same :class:`~rftkit.protocol.ToolError` JSON as every other refusal. (A FastAPI
``Depends(HTTPBearer())`` on each route cost about a third of a request in a cProfile of the
service.)

The token is compared with :func:`secrets.compare_digest` (constant time) and never logged or
echoed; it reaches the middleware as a ``SecretStr``, so even the app's middleware list, which
Starlette prints with its arguments, shows it masked.

Body limit: FastAPI's own ``max_body_size`` answers a plain-text ``Content Too Large`` and, when
the request declares its length, replaces any other reply with it; the trainer shows 4xx bodies
to the model, so the service needs the same ToolError JSON here too. This middleware answers a
declared oversize body before reading it, and stops a streamed (chunked) one as soon as it
crosses the limit by raising an ``HTTPException(413)`` that the app's exception handler renders.
"""

from __future__ import annotations

import os
import secrets

from fastapi import HTTPException
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rftkit.protocol import ToolError, ToolErrorDetail


def error_body(code: str, message: str) -> dict:
    """A ToolError body."""
    return ToolError(error=ToolErrorDetail(code=code, message=message)).model_dump()


UNAUTHORIZED = error_body(
    "unauthorized", "missing or wrong bearer token; send 'Authorization: Bearer <token>'"
)


class BearerAuthMiddleware:
    """401 unless ``Authorization: Bearer <token>`` matches; ``open_paths`` need no token."""

    def __init__(self, app: ASGIApp, token: SecretStr, open_paths: frozenset[str]) -> None:
        self.app = app
        self._expected = token.get_secret_value().encode()
        self._open_paths = open_paths

    def __repr__(self) -> str:
        return f"{type(self).__name__}(open_paths={sorted(self._open_paths)})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._open_paths:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                given = credentials.strip() if scheme.lower() == b"bearer" else b""
                break
        if secrets.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            UNAUTHORIZED, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)


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


TOKEN_ENV = "RFTKIT_TOOL_TOKEN"
"""The environment variable a tool server reads its bearer token from."""


def resolve_token(token: str | None, allow_no_auth: bool) -> str | None:
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
