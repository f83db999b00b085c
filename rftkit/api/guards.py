"""What every request to the local API passes before any route: the key, then the body's limits.

One pure ASGI middleware, outermost. A request without the server's key is answered 401 from its
headers alone, before one byte of its body is read: FastAPI's dependencies run only after the
body has been read, parsed and (for a multipart form) spooled to the temp dir, so a web page that
posts 300 MB at the loopback port would otherwise cost the server that much memory and disk.
Every path needs the key, ``/openapi.json`` included.

An authenticated body is held to its route's limit from :data:`BODY_LIMITS`: a declared
``content-length`` above it is answered 413 unread, a streamed (chunked) one is stopped as soon
as it crosses it. A JSON body is parsed once here and refused (400) when it nests deeper than
:data:`MAX_JSON_DEPTH`, so no route ever walks a 900-deep structure into a ``RecursionError``.
Every refusal has the API's error shape (``{"error": {...}}``), so the SDK raises its usual errors.
"""

from __future__ import annotations

import json
import secrets

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rftkit.api.errors import APIError
from rftkit.errors import RFTKitError

MIB = 1024 * 1024
DEFAULT_BODY_LIMIT = 1 * MIB
"""A JSON request: the hosted tool and grader payload limit (1 MB), ample for a job's config."""
BODY_LIMITS: dict[str, int] = {
    "/v1/files": 512 * MIB + MIB,  # one fine-tuning file (the hosted limit) and its form envelope
    "/v1/responses": 2 * MIB,  # a conversation of up to 1 MB (rftkit.api.responses) in JSON
    "/v1/chat/completions": 2 * MIB,
}
"""Per-route body limits in bytes, by exact path; every other route gets DEFAULT_BODY_LIMIT."""
MAX_JSON_DEPTH = 128
"""Deepest JSON body: an item may nest 100 deep (``rftkit.graders.engine.MAX_NESTING``) plus the
request's own envelope."""

MISSING_KEY = APIError(
    401,
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
)
WRONG_KEY = APIError(401, "Incorrect API key provided.", code="invalid_api_key")


def body_limit(path: str) -> int:
    return BODY_LIMITS.get(path.rstrip("/") or "/", DEFAULT_BODY_LIMIT)


def is_json(content_type: str) -> bool:
    """Whether FastAPI parses a body of this type as JSON (``application/json``, ``…+json``)."""
    kind, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"Request body too large: this route accepts at most {limit} bytes.",
        code="request_too_large",
    )


def json_depth(value: object) -> int:
    """How deep lists and objects nest in ``value`` (a parsed body), walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node)
    return deepest


class KeyAndBodyMiddleware:
    """401 without ``Authorization: Bearer <key>``; then each route's body limit and JSON depth."""

    def __init__(self, app: ASGIApp, key: SecretStr) -> None:
        self.app = app
        self._key = key.get_secret_value().encode()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._auth_refusal(Headers(scope=scope).get("authorization", ""))
        if refusal is not None:
            await _answer(refusal, scope, receive, send, {"WWW-Authenticate": "Bearer"})
            return
        limit = body_limit(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _answer(too_large(limit), scope, receive, send)
            return
        if is_json(headers.get("content-type", "")):
            await self._json(scope, receive, send, limit)
            return
        await self.app(scope, _limited(receive, limit), send)

    def _auth_refusal(self, header: str) -> APIError | None:
        scheme, _, given = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not given.strip():
            return MISSING_KEY
        if not secrets.compare_digest(given.strip().encode(), self._key):
            return WRONG_KEY
        return None

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Read the (bounded) body, refuse it if it nests too deep, then hand it on unchanged."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _answer(too_large(limit), scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            too_deep = json_depth(json.loads(body)) > MAX_JSON_DEPTH
        except RecursionError:
            too_deep = True
        except ValueError:  # not JSON: the route answers its own 400
            too_deep = False
        if too_deep:
            error = APIError(
                400,
                f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.",
                code="json_too_deep",
            )
            await _answer(error, scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that stops a body (declared or chunked) once it crosses ``limit`` bytes."""
    received = 0

    async def within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return within_limit


class BodyTooLarge(HTTPException, RFTKitError):
    """Raised while a route reads a body over its limit. An HTTPException, because FastAPI turns
    any other exception met while reading a body into a 400; the error handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit).message)


async def _answer(
    error: APIError, scope: Scope, receive: Receive, send: Send, headers: dict | None = None
) -> None:
    response = JSONResponse(error.body(), status_code=error.status, headers=headers)
    await response(scope, receive, send)
