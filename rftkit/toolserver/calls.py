"""Running one tool call: the tool itself, the rollout's state, replays, the call log, the cap on
the reply's size, and the access log line.

A retried call (same ``call_id``, same name and arguments) is answered from the rollout's record
without running the tool again; the same ``call_id`` for a different call is refused (409). Every
call, replays included, lands in the rollout's call log that ``GET /traces/{id}`` serves.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi.responses import JSONResponse

from rftkit.protocol import MAX_PAYLOAD_BYTES, FunctionCall, FunctionCallOutput
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.errors import ToolCrashed, ToolServiceError
from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError
from rftkit.toolserver.resources import Resources
from rftkit.toolserver.state import StateStore, TraceRecord

MAX_OUTPUT_BYTES = MAX_PAYLOAD_BYTES - 4_096
"""Largest ``output`` (JSON-encoded) that still leaves room for the reply's envelope under 1 MB."""

_log = logging.getLogger(__name__)


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


@dataclass
class ToolCaller:
    """Runs calls on ``toolbox`` against the corpus ``corpus_for(item)`` picks and ``resources``,
    keeping each rollout's record in ``store``; one access-log line per call on ``access_log``
    (never headers)."""

    toolbox: Toolbox
    corpus_for: Callable[[dict[str, Any]], Corpus | None]
    resources: Resources
    store: StateStore
    access_log: logging.Logger
    max_output_bytes: int = MAX_OUTPUT_BYTES
    run_in_threads: bool = False

    def run_tool(self, record: TraceRecord, call: FunctionCall, name: str) -> tuple[int, dict]:
        """Execute one call; the reply's status and body."""
        if name not in self.toolbox:
            raise ToolServiceError(
                404,
                "unknown_tool",
                f"unknown tool {name!r}; this endpoint serves: {', '.join(self.toolbox.names)}",
                param="name",
            )
        ctx = ToolContext(
            corpus=self.corpus_for(call.item),
            trace_id=call.trace_id,
            state=record.state,
            item=call.item,
            resources=self.resources,
        )
        try:
            output = self.toolbox[name](ctx, call.parsed_arguments())
        except ToolInputError as exc:
            status = 404 if exc.code == "not_found" else 400
            raise ToolServiceError(status, exc.code, str(exc), param=exc.param) from None
        except Exception as exc:
            raise ToolCrashed(f"tool {name!r} raised {type(exc).__name__}") from exc
        if not isinstance(output, str):
            raise ToolCrashed(f"tool {name!r} returned {type(output).__name__}, not str")
        reply = FunctionCallOutput.answering(call, truncate_output(output, self.max_output_bytes))
        return 200, reply.model_dump()

    async def _answer(self, record: TraceRecord, call: FunctionCall, name: str) -> tuple[int, dict]:
        """Run the call, or refuse it; a refusal is a reply too (logged and replayed alike)."""
        try:
            if self.run_in_threads:
                return await anyio.to_thread.run_sync(self.run_tool, record, call, name)
            return self.run_tool(record, call, name)
        except ToolServiceError as error:
            return error.status, error.body()

    async def _in_rollout(
        self, call: FunctionCall, name: str, started: float
    ) -> tuple[int, dict, bool]:
        """Answer ``call`` inside its rollout's record (locked): replay, refuse a reused
        ``call_id``, or run it; log it and save the record. -> (status, body, replayed)."""
        async with self.store.lock(call.trace_id):
            record = await self.store.load(call.trace_id)
            arguments = call.parsed_arguments()
            fingerprint = {"name": name, "arguments": arguments}
            cached = record.replies.get(call.call_id)
            replayed = cached is not None and cached["fingerprint"] == fingerprint
            if replayed:
                status, body = cached["status"], cached["body"]
            elif cached is not None:
                error = ToolServiceError(
                    409,
                    "call_id_reused",
                    f"call_id {call.call_id!r} was already used in this rollout for a "
                    "different call; each call needs its own call_id",
                    param="call_id",
                )
                status, body = error.status, error.body()
            else:
                status, body = await self._answer(record, call, name)
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
            await self.store.save(record)
        return status, body, replayed

    async def dispatch(self, call: FunctionCall, name: str) -> JSONResponse:
        """The reply to ``call`` on tool ``name``: 5xx only for a bug (500) or an unreachable
        state store (503, worth a retry)."""
        started = time.perf_counter()
        status, replayed = 500, False
        try:
            status, body, replayed = await self._in_rollout(call, name, started)
            return JSONResponse(body, status_code=status)
        except ToolCrashed:
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
            self._log_access(call, name, status, started, replayed)

    def _log_access(
        self, call: FunctionCall, name: str, status: int, started: float, replayed: bool
    ) -> None:
        if not self.access_log.isEnabledFor(logging.INFO):
            return
        entry = {
            "trace_id": call.trace_id,
            "call_id": call.call_id,
            "tool": name,
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "replayed": replayed,
        }
        self.access_log.info(json.dumps(entry), extra={"tool_call": entry})
