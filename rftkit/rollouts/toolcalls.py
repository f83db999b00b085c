"""Tool calls over HTTP with the trainer's failure semantics.

Each call is POSTed as a :class:`rftkit.protocol.FunctionCall` to the ``server_url`` configured for
its tool name (per-tool URLs and one dispatch URL both work: the name travels in the body).
What the model then reads follows the Agent RFT trainer:

- 2xx: the ``function_call_output``'s ``output``;
- 4xx: the response body, as is, so the model can correct itself;
- 5xx, connection errors, timeouts, malformed 2xx bodies: retried (``RETRIES`` times, with a short
  backoff); if the last attempt fails too the whole rollout is discarded, never scored 0;
- a reply over the 1 MB limit: 413 shown to the model. Replies are read as a stream and reading
  stops at the limit, so an endpoint that answers gigabytes costs one megabyte.

Header values (bearer tokens) go on the wire only; nothing here formats them into an error.

``ToolRouter.reached`` counts, per tool name, the requests the tool's URL answered (any HTTP
status, retries included): the calls that really got there, counted where they are sent, so a
job can report its traffic without claiming calls that never left (an unknown tool, bad
arguments, a connection refused).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from rftkit.errors import RFTKitError
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


class ReplyTooLarge(RFTKitError):
    """A reply body went over the limit while it was being read."""


async def read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed ``response``, or ReplyTooLarge as soon as it passes ``limit``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ReplyTooLarge(f"reply of {int(declared)} bytes exceeds the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ReplyTooLarge(f"reply of more than {limit} bytes exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


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
        reached: Counter[str] | None = None,
    ) -> None:
        self.tools = {t.name: t for t in map(_job_tool, range(len(tools)), tools)}
        self.reached: Counter[str] = Counter() if reached is None else reached
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
                    request = self.client.build_request(
                        "POST", tool.server_url, content=body, headers=headers
                    )
                    response = await self.client.send(request, stream=True)
                    self.reached[call.name] += 1
                    try:
                        status = response.status_code
                        content = await read_bounded(response, MAX_PAYLOAD_BYTES)
                    finally:
                        await response.aclose()
            except TimeoutError:
                failure = f"{call.name}: no answer within {self.call_timeout:g} s"
                continue
            except ReplyTooLarge as exc:
                message = f"{call.name}: {exc}"
                return CallOutcome(error_body("payload_too_large", message), 413, attempt, message)
            except httpx.HTTPError as exc:
                failure = f"{call.name}: {type(exc).__name__} reaching the tool endpoint"
                continue
            if 400 <= status < 500:
                text = content.decode(response.encoding or "utf-8", errors="replace")
                return CallOutcome(text, status, attempt, f"HTTP {status}")
            if status >= 500:
                failure = f"{call.name}: HTTP {status}"
                continue
            try:
                output = FunctionCallOutput.model_validate_json(content).output
            except ValidationError as exc:
                failure = f"{call.name}: malformed function_call_output ({_first_error(exc)})"
                continue
            return CallOutcome(output, status, attempt)
        return CallOutcome(None, status, RETRIES + 1, f"{failure} after {RETRIES} retries", True)


def _job_tool(index: int, tool: JobTool | Mapping[str, Any]) -> JobTool:
    """Validate one tools entry; the error names the entry and field but never echoes values
    (pydantic would print the whole dict, headers and bearer token included)."""
    if isinstance(tool, JobTool):
        return tool
    try:
        return JobTool.model_validate(tool)
    except ValidationError as exc:
        raise ValueError(f"tools[{index}]: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
