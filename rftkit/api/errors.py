"""Errors in the fine-tuning API's shape: ``{"error": {"message", "type", "param", "code"}}``.

Every failure the local server returns — its own refusals, FastAPI's body validation, unknown
routes, an uncaught bug — leaves through these handlers, so a client written against the hosted
API (``openai.BadRequestError``, ``NotFoundError``, ...) reads it unchanged. Body validation
answers 400 as the real API does, not FastAPI's 422.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rftkit.errors import RFTKitError

log = logging.getLogger("rftkit.api")


class APIError(RFTKitError):
    """A refusal with the API's status, ``type``, ``param`` and ``code``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = (
            status,
            message,
            param,
            code,
            type,
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def not_found(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(404, message, param=param, code=code)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def unsupported(param: str, why: str) -> APIError:
    """A parameter the real API accepts but this server cannot serve (see the limits table)."""
    return APIError(
        400,
        f"Unsupported parameter: '{param}' {why} (rftkit's local API; see its limits table).",
        param=param,
        code="unsupported_parameter",
    )


def _param(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(parts)


def _validation_error(errors: list[dict[str, Any]]) -> APIError:
    first = errors[0]
    param = _param(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    if kind == "missing":
        return bad_request(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    if kind == "extra_forbidden":
        return bad_request(
            f"Unrecognized request argument supplied: {param}", param, "unknown_parameter"
        )
    if kind.startswith("json") or not param:
        return bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)",
            None,
            None,
        )
    return bad_request(f"Invalid value for '{param}': {first.get('msg')}.", param, "invalid_value")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the API's shape."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        error = _validation_error(list(exc.errors()))
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            error = not_found(f"Invalid URL ({request.method} {request.url.path})")
        elif exc.status_code == 413:
            error = APIError(413, str(exc.detail), code="request_too_large")
        else:
            error = APIError(exc.status_code, str(exc.detail))
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # The message names the exception type only: its text could carry request data.
        log.error(
            "internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        error = APIError(
            500,
            f"The server had an error while processing your request ({type(exc).__name__}).",
            type="server_error",
        )
        return JSONResponse(error.body(), status_code=500)
