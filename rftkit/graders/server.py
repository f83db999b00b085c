"""Serve any local grader as an ``endpoint`` grader: POST ``/grade`` with bearer auth.

A team's grader (a python grader, a ``multi``, anything :func:`run_grader` runs) or any async
scorer (``scorer=``: takes the :class:`~rftkit.protocol.GraderRequest`, returns a float, e.g. the
trajectory grader of :mod:`rftkit.graders.trajectory`) becomes a URL a job can use as
``{"type": "endpoint", "url": ".../grade", "headers": {"Authorization": ...}}``.
The body is :class:`rftkit.protocol.GraderRequest`; the answer is ``GraderResponse`` with the
``score`` plus, for debugging, the grader's ``errors`` (names of the flags set) — a sample that
cannot be graded scores 0 with its flag, as the service does, rather than failing the rollout
(a scorer that raises or returns no finite number: ``other_error``).

The server grades for others, so it is strict:

- every route (``/grade``, ``/healthz``, ``/openapi.json``, unknown paths) needs the token,
  compared in constant time (``hmac.compare_digest``) and never logged or echoed;
- a body above 1 MB (the service's limit) is refused with 413 from its ``Content-Length``, or
  as soon as the streamed body passes the limit, without reading the rest;
- python graders run only under namespaces (:mod:`rftkit.graders.isolation`) unless
  ``require_isolation=False`` is passed (the explicit opt-in, printed when the sandbox starts);
- the body must arrive within ``body_timeout_s`` (else 408); a connection that sends no complete
  request head within the server's header timeout is closed (:func:`server_options`, which
  ``rftkit graders serve`` and :func:`~rftkit.serving.serve_in_background` apply);
- at most ``max_concurrent`` requests grade at once and ``max_queued`` more wait; beyond that,
  or when no slot frees within the deadline, the answer is 503 with ``Retry-After``. A python
  grader that loops is stopped at ``deadline_s`` (score 0 with its flag), so looping samples
  hold a slot for at most that long and other requests keep being answered;
- CPU-bound graders (``text_similarity`` anywhere in the config: BLEU, ROUGE, ...) never run on
  the event loop: a worker process scores them (:mod:`rftkit.graders.workers`) and is killed at
  ``deadline_s`` (answer 503), so ``/healthz`` and other requests keep being answered.

Example::

    app = create_grader_app(course_grader(), token=os.environ["GRADER_TOKEN"])
    with serve_in_background(app) as base_url:
        httpx.post(f"{base_url}/grade", json=request, headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from rftkit.graders.engine import run_grader_async
from rftkit.graders.isolation import UNISOLATED_ENV, IsolationUnavailable, namespaces_unavailable
from rftkit.graders.sandbox import SandboxLimits, default_sandbox
from rftkit.graders.validate import validate_grader
from rftkit.graders.workers import ScoringPool
from rftkit.protocol import MAX_PAYLOAD_BYTES, GraderRequest, GraderResponse
from rftkit.serving import header_timeout_protocol

Scorer = Callable[[GraderRequest], Awaitable[float]]
"""Any async scorer: the graded request in, a reward out."""

_log = logging.getLogger(__name__)
_GRACE_S = 15.0
"""Beyond ``deadline_s``: the sandbox allows a call's first case a few seconds to start."""


class _BearerAuth:
    """ASGI middleware: no route, docs and schema included, answers without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = Headers(scope=scope).get("authorization", "")
            scheme, _, given = header.partition(" ")
            if not (scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), self.token)):
                refused = JSONResponse(
                    {"detail": "missing or wrong bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _bounded_body(request: Request, timeout_s: float) -> bytes:
    """The body, or 413 as soon as it is known to pass the limit (the rest is never read), or
    408 when it has not all arrived within ``timeout_s``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        raise HTTPException(413, f"body is {declared} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > MAX_PAYLOAD_BYTES:
                    raise HTTPException(413, f"body is over the limit of {MAX_PAYLOAD_BYTES} bytes")
    except TimeoutError:
        raise HTTPException(408, f"the body did not arrive within {timeout_s:g} s") from None
    return bytes(body)


def _cpu_bound(config: Mapping[str, Any]) -> bool:
    if config["type"] == "text_similarity":
        return True
    return config["type"] == "multi" and any(_cpu_bound(g) for g in config["graders"].values())


HEADER_TIMEOUT_S = 10.0
"""How long a connection may take to send a complete request head."""


def server_options() -> dict[str, Any]:
    """uvicorn settings for serving a grader app: the header timeout and short keep-alive."""
    return {"http": header_timeout_protocol(HEADER_TIMEOUT_S), "timeout_keep_alive": 5}


def _runs_python(config: Mapping[str, Any]) -> bool:
    if config["type"] == "python":
        return True
    return config["type"] == "multi" and any(_runs_python(g) for g in config["graders"].values())


async def _scorer_result(scorer: Scorer, request: GraderRequest) -> tuple[float, list[str]]:
    """The scorer's reward, or 0 with ``other_error`` when it raises or gives no finite number."""
    try:
        score = float(await scorer(request))
    except Exception as exc:  # the scorer's own bug, or a sample it cannot read: not a 5xx
        _log.warning("scorer raised %s; the sample scores 0", type(exc).__name__)
        return 0.0, ["other_error"]
    return (score, []) if math.isfinite(score) else (0.0, ["other_error"])


def create_grader_app(
    grader: Mapping[str, Any] | None = None,
    *,
    scorer: Scorer | None = None,
    token: str | None = None,
    deadline_s: float = 60.0,
    max_concurrent: int = 8,
    max_queued: int = 64,
    require_isolation: bool = True,
    body_timeout_s: float = 10.0,
) -> FastAPI:
    """A FastAPI app grading with ``grader`` (validated now, so a bad config fails at start), or
    with ``scorer`` instead (your own code, run in this process: no isolation applies).

    ``token=None`` serves without auth (loopback development only); an empty token is refused.
    ``deadline_s`` bounds one request's grading (each python grader is stopped then, and a
    CPU-bound grader's worker process is killed).
    """
    if (grader is None) == (scorer is None):
        raise ValueError("pass exactly one of grader (a config) and scorer (an async callable)")
    config = validate_grader(grader) if grader is not None else None
    name = str(config.get("name", config["type"])) if config else _scorer_name(scorer)
    if token == "":
        raise ValueError("token is empty: pass a secret, or None for loopback development")
    reason = namespaces_unavailable()
    if require_isolation and reason is not None and config and _runs_python(config):
        raise IsolationUnavailable(
            f"this grader runs python code and {reason}; pass require_isolation=False to "
            "serve it with in-process checks only (not a security boundary)"
        )
    if not require_isolation and reason is not None and config and _runs_python(config):
        default_sandbox(require_isolation=False)  # the explicit opt-in, printed when it starts
    limits = SandboxLimits(timeout_s=deadline_s)
    pool = None
    if config is not None and _cpu_bound(config):
        pool = ScoringPool(config, _worker_env(require_isolation))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if pool is None:
            yield
            return
        threading.Thread(target=pool.warm, daemon=True).start()  # the first worker, ahead
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title=f"rftkit grader: {name}",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    if token is not None:
        app.add_middleware(_BearerAuth, token=token)
    slots = asyncio.Semaphore(max_concurrent)
    admitted = 0  # grading now or waiting for a slot
    busy = {"Retry-After": str(max(1, math.ceil(deadline_s / 4)))}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "grader": name}

    @app.post("/grade", response_model=GraderResponse)
    async def grade(request: Request) -> Any:
        nonlocal admitted
        body = await _bounded_body(request, body_timeout_s)
        try:
            graded = GraderRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        if admitted >= max_concurrent + max_queued:
            raise HTTPException(503, "the grader is saturated; retry later", busy)
        admitted += 1
        try:
            try:
                await asyncio.wait_for(slots.acquire(), deadline_s)
            except TimeoutError:
                raise HTTPException(503, "no slot freed in time; retry later", busy) from None
            try:
                score, flags = await asyncio.wait_for(grade_one(graded), deadline_s + _GRACE_S)
            except TimeoutError:
                raise HTTPException(503, f"grading took over {deadline_s:g} s", busy) from None
            finally:
                slots.release()
        finally:
            admitted -= 1
        return GraderResponse(score=score, errors=flags)

    async def grade_one(graded: GraderRequest) -> tuple[float, list[str]]:
        if config is None:
            return await _scorer_result(scorer, graded)
        if pool is not None:
            sample = graded.sample.model_dump(mode="json")
            return await pool.score(sample, graded.item, graded.trace_id, deadline_s)
        result = await run_grader_async(
            config, graded.sample, graded.item, trace_id=graded.trace_id, limits=limits
        )
        return result.reward, [flag for flag, value in result.metadata.errors if value is True]

    return app


def _worker_env(require_isolation: bool) -> dict[str, str]:
    """The server's environment; the explicit opt-in to unisolated python graders carries over."""
    env = dict(os.environ)
    if not require_isolation:
        env[UNISOLATED_ENV] = "1"
    return env


def _scorer_name(scorer: Any) -> str:
    return str(getattr(scorer, "__qualname__", None) or type(scorer).__name__)
