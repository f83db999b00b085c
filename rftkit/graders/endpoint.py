"""The ``endpoint`` grader: POST ``{sample, item, trace_id}`` to a URL, read ``{"score": float}``.

Request and response are :class:`rftkit.protocol.GraderRequest` / ``GraderResponse``
(docs/hosted-api.md §4.4). Like the service, a connection failure, timeout or 5xx is retried
(``ATTEMPTS`` in all);
if it still fails the sample scores 0 with ``unresponsive_reward_error``. A 4xx or a body that is
not ``{"score": <finite number>}`` is ``other_error``. Error details carry the status line and
the URL with its credentials masked (``rftkit.secrets``) — never the request headers (they
hold the bearer token) and never the body: a URL that is not a grader (an internal admin page) must
not be readable through a grader's error. ``rate_limit`` and ``pass_threshold`` are accepted and
not enforced locally (the service uses them).

Requests go out under the current outbound policy (``rftkit.outbound``): an address it refuses
fails at once (``other_error``), with no retry and no byte sent; redirects are not followed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from rftkit.graders.result import GraderFailure
from rftkit.outbound import async_client, refusal_in
from rftkit.protocol import GraderRequest, GraderResponse
from rftkit.secrets import mask_urls

ATTEMPTS = 3
TIMEOUT_S = 600.0
"""The service's documented limit per grading request (10 min)."""
_BACKOFF_S = 0.2


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _body(request: GraderRequest) -> bytes:
    """The request as UTF-8 JSON. A lone surrogate (a Python string can hold one, UTF-8 cannot)
    is sent as U+FFFD instead of failing the grading; NUL and everything else go as they are."""
    try:
        return request.model_dump_json().encode()
    except PydanticSerializationError:
        text = json.dumps(request.model_dump(mode="json"), ensure_ascii=False)
        return _LONE_SURROGATE.sub("\ufffd", text).encode()


async def post_for_score(
    url: str,
    request: GraderRequest,
    headers: Mapping[str, str] | None = None,
    *,
    timeout_s: float = TIMEOUT_S,
    attempts: int = ATTEMPTS,
) -> float:
    """The endpoint's score for ``request``; GraderFailure when it cannot be had."""
    body = _body(request)
    last = ""
    shown = mask_urls(url)
    async with async_client(timeout=timeout_s) as client:
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
                refused = refusal_in(exc)
                if refused:
                    raise GraderFailure(
                        "other_error", f"{shown} is not called: {refused}"
                    ) from None
                last = f"{type(exc).__name__} from {shown}"
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code} from {shown}"
                continue
            if response.status_code >= 400:
                raise GraderFailure("other_error", f"HTTP {response.status_code} from {shown}")
            if response.is_redirect:
                raise GraderFailure(
                    "other_error",
                    f"HTTP {response.status_code} from {shown}: redirects are not followed",
                )
            try:
                return GraderResponse.model_validate_json(response.content).score
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "body"
                raise GraderFailure(
                    "other_error", f"{shown} answered an invalid body ({where}: {first['msg']})"
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


def endpoint_urls(grader: Any, where: str) -> list[tuple[str, str]]:
    """``(param, url)`` of every endpoint grader in a config, sub-graders included."""
    found: list[tuple[str, str]] = []
    if isinstance(grader, dict):
        if grader.get("type") == "endpoint" and isinstance(grader.get("url"), str):
            found.append((f"{where}.url", grader["url"]))
        graders = grader.get("graders")
        for key, sub in (graders.items() if isinstance(graders, dict) else ()):
            found += endpoint_urls(sub, f"{where}.graders.{key}")
    return found
