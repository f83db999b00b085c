"""Tool calls over HTTP with the trainer's failure semantics.

Each call is POSTed as a :class:`rftkit.protocol.FunctionCall` to the ``server_url`` configured for
its tool name (per-tool URLs and one dispatch URL both work: the name travels in the body).
What the model then reads follows the Agent RFT trainer:

- 2xx: the ``function_call_output``'s ``output``;
- 4xx: the response body, as is, so the model can correct itself;
- 5xx, connection errors, timeouts, malformed 2xx bodies: retried (``RETRIES`` times, with a short
  backoff); if the last attempt fails too the whole rollout is discarded, never scored 0.

Header values (bearer tokens) go on the wire only; nothing here formats them into an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from rftkit.protocol import (
    MAX_PAYLOAD_BYTES,
    FunctionCall,
    FunctionCallOutput,
    JobTool,
    ToolError,
    ToolErrorDetail,
)

RETRIES = 3
"""Retries after a failed first attempt, as the trainer does before discarding a rollout."""


@dataclass(frozen=True)
class CallOutcome:
    """What came of one tool call: the text the model reads, or why the rollout must stop."""

    output: str | None
    status_code: int | None
    attempts: int
    error: str | None = None
    discard: bool = False


def error_body(code: str, message: str, param: str | None = None) -> str:
    """A :class:`ToolError` body, the shape tool endpoints use, for errors raised client-side."""
    return ToolError(
        error=ToolErrorDetail(code=code, message=message, param=param)
    ).model_dump_json()


class ToolRouter:
    """Sends each tool call to the endpoint configured for its name, through one pooled client."""

    def __init__(
        self,
        tools: Sequence[JobTool | Mapping[str, Any]],
        client: httpx.AsyncClient,
        *,
        call_timeout: float,
        retry_backoff: float = 0.1,
    ) -> None:
        parsed = [t if isinstance(t, JobTool) else JobTool.model_validate(t) for t in tools]
        self.tools = {t.name: t for t in parsed}
        self.client = client
        self.call_timeout = call_timeout
        self.retry_backoff = retry_backoff

    async def call(self, call: FunctionCall) -> CallOutcome:
        """Run one call; never raises for HTTP trouble (that is what the outcome reports)."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            message = f"no tool named {call.name!r} is configured (known: {known})"
            return CallOutcome(error_body("unknown_tool", message, "name"), None, 0, message)
        body = call.model_dump_json().encode()
        if len(body) > MAX_PAYLOAD_BYTES:
            message = f"request of {len(body)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit"
            return CallOutcome(error_body("payload_too_large", message), 413, 0, message)
        headers = {"content-type": "application/json", **tool.headers}
        failure = ""
        for attempt in range(1, RETRIES + 2):
            if attempt > 1:
                await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 2))
            status: int | None = None
            try:
                async with asyncio.timeout(self.call_timeout):
                    response = await self.client.post(
                        tool.server_url, content=body, headers=headers
                    )
                status = response.status_code
            except TimeoutError:
                failure = f"{call.name}: no answer within {self.call_timeout:g} s"
                continue
            except httpx.HTTPError as exc:
                failure = f"{call.name}: {type(exc).__name__} reaching the tool endpoint"
                continue
            if 400 <= status < 500:
                return CallOutcome(response.text, status, attempt, f"HTTP {status}")
            if status >= 500:
                failure = f"{call.name}: HTTP {status}"
                continue
            if len(response.content) > MAX_PAYLOAD_BYTES:
                message = f"response of {len(response.content)} bytes exceeds the 1 MB limit"
                return CallOutcome(error_body("payload_too_large", message), 413, attempt, message)
            try:
                output = FunctionCallOutput.model_validate_json(response.content).output
            except ValidationError as exc:
                failure = f"{call.name}: malformed function_call_output ({_first_error(exc)})"
                continue
            return CallOutcome(output, status, attempt)
        return CallOutcome(None, status, RETRIES + 1, f"{failure} after {RETRIES} retries", True)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
