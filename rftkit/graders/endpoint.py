"""The ``endpoint`` grader: POST ``{sample, item, trace_id}`` to a URL, read ``{"score": float}``.

Request and response are :class:`rftkit.protocol.GraderRequest` / ``GraderResponse``
(docs/hosted-api.md §4.4). Like the service, a connection failure, timeout or 5xx is retried
(``ATTEMPTS`` in all); if it still fails the sample scores 0 with ``unresponsive_reward_error``. A
4xx or a body that is not ``{"score": <finite number>}`` is ``other_error``. Error details carry the
status and the start of the body, never the request headers (they hold the bearer token).
``rate_limit`` and ``pass_threshold`` are accepted and not enforced locally (the service uses them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from rftkit.graders.result import GraderFailure
from rftkit.protocol import GraderRequest, GraderResponse

ATTEMPTS = 3
TIMEOUT_S = 600.0
"""The service's documented limit per grading request (10 min)."""
_BACKOFF_S = 0.2
_BODY_SNIPPET = 300


async def post_for_score(
    url: str,
    request: GraderRequest,
    headers: Mapping[str, str] | None = None,
    *,
    timeout_s: float = TIMEOUT_S,
    attempts: int = ATTEMPTS,
) -> float:
    """The endpoint's score for ``request``; GraderFailure when it cannot be had."""
    body = request.model_dump_json()
    last = ""
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_BACKOFF_S * 2 ** (attempt - 1))
            try:
                response = await client.post(
                    url,
                    content=body,
                    headers={**(headers or {}), "content-type": "application/json"},
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__} from {url}"
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code} from {url}: {response.text[:_BODY_SNIPPET]}"
                continue
            if response.status_code >= 400:
                raise GraderFailure(
                    "other_error",
                    f"HTTP {response.status_code} from {url}: {response.text[:_BODY_SNIPPET]}",
                )
            try:
                return GraderResponse.model_validate_json(response.content).score
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "body"
                raise GraderFailure(
                    "other_error", f"{url} answered an invalid body ({where}: {first['msg']})"
                ) from None
    raise GraderFailure(
        "unresponsive_reward_error", f"no score after {attempts} attempts; last: {last}"
    )


async def score_with_endpoint(grader: Mapping[str, Any], context: Mapping[str, Any], run) -> float:
    """Engine hook: build the protocol request from the grading context and post it."""
    try:
        request = GraderRequest(
            sample=context["sample"], item=context["item"], trace_id=run.trace_id
        )
    except ValidationError as exc:
        raise GraderFailure("sample_parse_error", str(exc.errors()[0]["msg"])) from None
    return await post_for_score(grader["url"], request, grader.get("headers"))
