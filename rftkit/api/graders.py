"""``/v1/fine_tuning/alpha/graders/validate`` and ``/run``, answered by ``rftkit.graders``.

The same validation and engine the local trainer grades with, so a grader that passes here
behaves the same in a local job. ``run`` takes ``trace_id`` beside the documented fields (the
SDK sends it through ``extra_body``) and forwards it to endpoint graders.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from rftkit.api.errors import bad_request
from rftkit.graders import GraderValidationError, run_grader_async, validate_grader


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


router = APIRouter(prefix="/v1/fine_tuning/alpha/graders")


@router.post("/validate")
def validate(body: ValidateRequest) -> dict[str, Any]:
    return {"grader": checked_grader(body.grader)}


@router.post("/run")
async def run(body: RunRequest) -> dict[str, Any]:
    grader = checked_grader(body.grader)
    result = await run_grader_async(grader, body.model_sample, body.item, trace_id=body.trace_id)
    return result.model_dump()
