"""Serve any local grader as an ``endpoint`` grader: POST ``/grade`` with bearer auth.

A team's grader (a python grader, a ``multi``, anything :func:`run_grader` runs) becomes a URL a
job can use as ``{"type": "endpoint", "url": ".../grade", "headers": {"Authorization": ...}}``.
The body is :class:`rftkit.protocol.GraderRequest`; the answer is ``GraderResponse`` with the
``score`` plus, for debugging, the grader's ``errors`` (names of the flags set) — a sample that
cannot be graded scores 0 with its flag, as the service does, rather than failing the rollout.

The token is compared in constant time (``hmac.compare_digest``) and never logged or echoed.
Bodies above 1 MB are refused with 413 (the service's limit).

Example::

    app = create_grader_app(course_grader(), token=os.environ["GRADER_TOKEN"])
    with serve_in_background(app) as base_url:
        httpx.post(f"{base_url}/grade", json=request, headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from rftkit.graders.engine import run_grader_async
from rftkit.graders.validate import validate_grader
from rftkit.protocol import MAX_PAYLOAD_BYTES, GraderRequest, GraderResponse


def _authorised(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def create_grader_app(grader: Mapping[str, Any], *, token: str | None = None) -> FastAPI:
    """A FastAPI app grading with ``grader`` (validated now, so a bad config fails at start).

    ``token=None`` serves without auth (loopback development only).
    """
    config = validate_grader(grader)
    app = FastAPI(title=f"rftkit grader: {config.get('name', config['type'])}", docs_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "grader": str(config.get("name", config["type"]))}

    @app.post("/grade", response_model=GraderResponse)
    async def grade(request: Request) -> Any:
        if not _authorised(request, token):
            raise HTTPException(
                401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"}
            )
        body = await request.body()
        if len(body) > MAX_PAYLOAD_BYTES:
            raise HTTPException(413, f"body is {len(body)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
        try:
            graded = GraderRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        result = await run_grader_async(
            config, graded.sample, graded.item, trace_id=graded.trace_id
        )
        flags = [name for name, value in result.metadata.errors if value is True]
        return GraderResponse(score=result.reward, errors=flags)

    return app
