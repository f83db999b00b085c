"""A rollout's final sample becomes a reward: a grader config, an endpoint grader or a function.

- ``{"type": "endpoint", "url": ..., "headers": ...}``: POST ``{sample, item, trace_id}`` and read
  ``{"score": float}``; any failure is retried ``RETRIES`` times, then the rollout is discarded
  (the trainer's rule for endpoint graders).
- any other mapping: an OpenAI grader config, run by rftkit's local grader engine
  (``rftkit.graders.run_grader_async``), with the same result shape as ``graders.run``; if an
  endpoint grader inside it stays unresponsive the rollout is discarded, not scored 0.
- a callable ``(sample, item, trace_id) -> float`` (or an awaitable of one): for tests and quick
  experiments.

A grader that raises, or answers something that is not a finite number, never takes the batch down:
the rollout scores 0 with the ``other_error`` flag set and the reason in the trace, as the service
scores a grader that fails at run time. (Scoring it 0 rather than discarding it matters in RL: a
policy must not learn that output which crashes the grader escapes the reward.)
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from rftkit._util.jsonsafe import well_formed
from rftkit.graders import GraderErrors, GraderRunResult, run_grader_async
from rftkit.graders.result import GraderMetadata
from rftkit.protocol import MAX_PAYLOAD_BYTES, GraderRequest, GraderResponse, Sample

from .toolcalls import RETRIES, ReplyTooLarge, read_bounded

MAX_ERROR_CHARS = 500
"""Error text kept in a trace: enough to debug, never a model's whole pathological output."""

GraderFn = Callable[[Sample, dict[str, Any], str], float | Awaitable[float]]
Grader = Mapping[str, Any] | GraderFn


@dataclass(frozen=True)
class GradeOutcome:
    """A reward with the grader's full result, or why grading failed for good."""

    reward: float | None
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def discard(self) -> bool:
        return self.reward is None


async def grade(
    grader: Grader,
    sample: Sample,
    item: dict[str, Any],
    trace_id: str,
    client: httpx.AsyncClient,
    *,
    timeout: float,
    retry_backoff: float = 0.1,
) -> GradeOutcome:
    """Score one sample; never raises for the grader's own failures (see the module docstring)."""
    if not callable(grader) and grader.get("type") == "endpoint":
        return await _grade_at_endpoint(
            grader, sample, item, trace_id, client, timeout=timeout, retry_backoff=retry_backoff
        )
    try:
        if callable(grader):
            return await _grade_with_function(grader, sample, item, trace_id)
        return await _grade_locally(grader, sample, item, trace_id)
    except Exception as exc:  # any bug or hostile input inside the grader: this rollout only
        return failed_grade(grader, describe(exc))


def describe(exc: BaseException) -> str:
    """``Type: message``, cut to ``MAX_ERROR_CHARS`` (a message may quote the whole input)."""
    text = well_formed(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= MAX_ERROR_CHARS else f"{text[: MAX_ERROR_CHARS - 1]}…"


def failed_grade(grader: Grader, reason: str) -> GradeOutcome:
    """Score 0 with ``other_error`` set, in the ``graders.run`` result shape."""
    if callable(grader):
        name, kind = getattr(grader, "__name__", type(grader).__name__), "function"
    else:
        kind = str(grader.get("type", "unknown"))
        name = str(grader.get("name", kind))
    result = GraderRunResult(
        reward=0.0,
        metadata=GraderMetadata(
            name=name,
            type=kind,
            errors=GraderErrors(other_error=True),
            error_details=[reason],
        ),
    )
    return GradeOutcome(0.0, result.model_dump(mode="json"), f"grader {name} failed: {reason}")


async def _grade_with_function(
    grader: GraderFn, sample: Sample, item: dict[str, Any], trace_id: str
) -> GradeOutcome:
    value = grader(sample, item, trace_id)
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        reason = f"returned {type(value).__name__} {str(value)[:40]}, not a finite number"
        return failed_grade(grader, reason)
    return GradeOutcome(float(value), {"reward": float(value)})


async def _grade_locally(
    grader: Mapping[str, Any], sample: Sample, item: dict[str, Any], trace_id: str
) -> GradeOutcome:
    """The local engine scores failures 0 with a flag; an unresponsive endpoint inside a
    ``multi`` is the exception: like the trainer, the rollout is discarded instead."""
    result = await run_grader_async(dict(grader), sample, item, trace_id=trace_id)
    dumped = result.model_dump(mode="json")
    if result.errors.unresponsive_reward_error:
        details = "; ".join(result.metadata.error_details) or "no score"
        return GradeOutcome(None, dumped, f"grader {result.metadata.name}: {details}")
    if not math.isfinite(result.reward):
        return failed_grade(grader, f"reward {result.reward} is not finite")
    return GradeOutcome(float(result.reward), dumped)


async def _grade_at_endpoint(
    grader: Mapping[str, Any],
    sample: Sample,
    item: dict[str, Any],
    trace_id: str,
    client: httpx.AsyncClient,
    *,
    timeout: float,
    retry_backoff: float,
) -> GradeOutcome:
    body = GraderRequest(sample=sample, item=item, trace_id=trace_id).model_dump_json()
    headers = {"content-type": "application/json", **grader.get("headers", {})}
    name = grader.get("name", "endpoint grader")
    failure = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            await asyncio.sleep(retry_backoff * 2 ** (attempt - 1))
        try:
            async with asyncio.timeout(timeout):
                request = client.build_request("POST", grader["url"], content=body, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    status = response.status_code
                    content = await read_bounded(response, MAX_PAYLOAD_BYTES)
                finally:
                    await response.aclose()
        except TimeoutError:
            failure = f"{name}: no answer within {timeout:g} s"
            continue
        except ReplyTooLarge as exc:
            failure = f"{name}: {exc}"
            continue
        except httpx.HTTPError as exc:
            failure = f"{name}: {type(exc).__name__} reaching the grader"
            continue
        if 200 <= status < 300:
            try:
                score = GraderResponse.model_validate_json(content).score
            except ValidationError:
                failure = f"{name}: answer is not {{'score': float}}"
                continue
            return GradeOutcome(score, {"reward": score, "name": name, "type": "endpoint"})
        failure = f"{name}: HTTP {status}"
    return GradeOutcome(None, None, f"{failure} after {RETRIES} retries")
