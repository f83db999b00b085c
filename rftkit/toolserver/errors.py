"""How the tool server refuses a call: a status and a :class:`~rftkit.protocol.ToolError` body.

4xx when the model can fix the call (the trainer shows the body to the model), 5xx only when
retrying could help or the service itself is broken (the trainer retries 3 times, then discards
the whole rollout rather than scoring it 0). Every refusal, FastAPI's own included, answers the
same JSON shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rftkit.errors import RFTKitError
from rftkit.protocol import ToolError, ToolErrorDetail
from rftkit.toolserver.guards import too_large_body

ERROR_STATUSES = (400, 401, 404, 409, 413, 422, 500, 503)
"""Every status a call can be refused with; each answers a ToolError body."""


class ToolCrashed(RFTKitError):
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


def error_response(error: ToolServiceError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def invalid_request(error: RequestValidationError) -> ToolServiceError:
    """A body that is not a valid call: 400 for bad ``arguments`` JSON (the model's mistake),
    422 for any other field (the caller's)."""
    first = error.errors()[0]
    where = [str(p) for p in first["loc"] if p != "body"]
    param = ".".join(where) or None
    # pydantic prefixes a validator's own message with "Value error, "; the model needs none.
    reason = str(first.get("ctx", {}).get("error", first["msg"]))
    if where[:1] == ["arguments"]:
        return ToolServiceError(400, "invalid_arguments", f"arguments {reason}", param="arguments")
    return ToolServiceError(422, "invalid_request", f"{param or 'body'}: {reason}", param=param)


def install_error_handlers(app: FastAPI, max_body_bytes: int) -> None:
    """Render every refusal of ``app`` (ours, pydantic's, Starlette's) as a ToolError body."""

    async def on_tool_service_error(request: Request, error: ToolServiceError) -> JSONResponse:
        return error_response(error)

    async def on_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(invalid_request(error))

    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 413:
            return JSONResponse(too_large_body(max_body_bytes), status_code=413)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(ToolServiceError(error.status_code, code, str(error.detail)))

    app.add_exception_handler(ToolServiceError, on_tool_service_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
