"""``/v1/fine_tuning/alpha/graders/validate`` and ``/run``, answered by ``rftkit.graders``.

The same validation and engine the local trainer grades with, so a grader that passes here
behaves the same in a local job. ``run`` takes ``trace_id`` beside the documented fields (the
SDK sends it through ``extra_body``) and forwards it to endpoint graders.

Graders run off the event loop (``rftkit.graders.offload``): similarity scoring in a killable
child, python graders' waits in the server's bounded pool, so a slow grader delays no other
route. Endpoint grader URLs are judged by the server's outbound policy (``rftkit.outbound``)
before the grader runs and again when it connects. ``validate`` echoes header values masked, as
the service does.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from rftkit import outbound
from rftkit.api.errors import bad_request
from rftkit.graders import GraderValidationError, run_grader_async, validate_grader
from rftkit.graders.endpoint import endpoint_urls
from rftkit.secrets import mask_headers, mask_urls


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grader: dict[str, Any]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grader: dict[str, Any]
    model_sample: str
    item: dict[str, Any] | None = None
    trace_id: str | None = None


def checked_grader(grader: dict[str, Any], param: str = "grader") -> dict[str, Any]:
    """The normalised grader, or 400 naming the field (``grader.graders.correct.operation``)."""
    try:
        return validate_grader(grader)
    except GraderValidationError as exc:
        where = f"{param}.{exc.path}" if exc.path else param
        raise bad_request(f"Invalid grader: {exc}", where, "invalid_grader") from None


def check_urls(policy: outbound.OutboundPolicy, urls: list[tuple[str, str]]) -> None:
    """400 naming the first URL the policy refuses (resolves names: call off the loop)."""
    for param, url in urls:
        try:
            policy.check_url(url)
        except outbound.OutboundRefused as exc:
            raise bad_request(
                f"{param}: {mask_urls(url)} is not called by this server: {exc}",
                param,
                "url_not_allowed",
            ) from None


router = APIRouter(prefix="/v1/fine_tuning/alpha/graders")


@router.post("/validate")
def validate(body: ValidateRequest) -> dict[str, Any]:
    return {"grader": mask_headers(checked_grader(body.grader))}


@router.post("/run")
async def run(request: Request, body: RunRequest) -> dict[str, Any]:
    state = request.app.state.rftkit
    grader = checked_grader(body.grader)
    urls = endpoint_urls(grader, "grader")
    if urls:
        await anyio.to_thread.run_sync(check_urls, state.outbound, urls)
    with outbound.applying(state.outbound):
        result = await run_grader_async(
            grader, body.model_sample, body.item, trace_id=body.trace_id, off_loop=state.off_loop
        )
    return result.model_dump()
