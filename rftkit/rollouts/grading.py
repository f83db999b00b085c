"""A rollout's final sample becomes a reward: a grader config, an endpoint grader or a function.

- ``{"type": "endpoint", "url": ..., "headers": ...}``: POST ``{sample, item, trace_id}`` and read
  ``{"score": float}``; any failure is retried ``RETRIES`` times, then the rollout is discarded
  (the trainer's rule for endpoint graders).
- any other mapping: an OpenAI grader config, run by rftkit's local grader engine
  (``rftkit.graders.run_grader_async``), with the same result shape as ``graders.run``; if an
  endpoint grader inside it stays unresponsive the rollout is discarded, not scored 0.
- a callable ``(sample, item, trace_id) -> float`` (or an awaitable of one): for tests and quick
  experiments.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from rftkit.graders import run_grader_async
from rftkit.protocol import GraderRequest, GraderResponse, Sample

from .toolcalls import RETRIES

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
    if callable(grader):
        value = grader(sample, item, trace_id)
        if inspect.isawaitable(value):
            value = await value
        return GradeOutcome(float(value), {"reward": float(value)})
    if grader.get("type") == "endpoint":
        return await _grade_at_endpoint(
            grader, sample, item, trace_id, client, timeout=timeout, retry_backoff=retry_backoff
        )
    return await _grade_locally(grader, sample, item, trace_id)


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
                response = await client.post(grader["url"], content=body, headers=headers)
        except TimeoutError:
            failure = f"{name}: no answer within {timeout:g} s"
            continue
        except httpx.HTTPError as exc:
            failure = f"{name}: {type(exc).__name__} reaching the grader"
            continue
        if response.is_success:
            try:
                score = GraderResponse.model_validate_json(response.content).score
            except ValidationError:
                failure = f"{name}: answer is not {{'score': float}}"
                continue
            return GradeOutcome(score, {"reward": score, "name": name, "type": "endpoint"})
        failure = f"{name}: HTTP {response.status_code}"
    return GradeOutcome(None, None, f"{failure} after {RETRIES} retries")
