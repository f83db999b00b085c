"""``/v1/fine_tuning/jobs``: RFT jobs created through the hosted API's calls, trained locally.

The routes only: what a create request becomes and how jobs are kept, queued and shown is
:mod:`rftkit.api.job_store`; events and checkpoints are served in the API's shapes, newest first
as the API lists them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from rftkit.api.errors import bad_request
from rftkit.api.job_store import JobStore
from rftkit.api.pages import page
from rftkit.protocol import JobCreateRequest
from rftkit.secrets import masked

TERMINAL = ("succeeded", "failed", "cancelled")
CANCEL_WAIT_S = 15.0
"""A cancel answers once the job stopped at its next safe point (well under a second while
rollouts run), waiting at most this long; a job still stopping then answers its status as is."""
_METADATA_FILTER = re.compile(r"^metadata\[(.+)\]$")


def store(request: Request) -> JobStore:
    return request.app.state.rftkit.jobs


router = APIRouter(prefix="/v1/fine_tuning/jobs")


@router.post("")
def create(request: Request, body: JobCreateRequest) -> dict[str, Any]:
    return store(request).create(body).api_object()


@router.get("")
def list_jobs(
    request: Request,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    metadata = {}
    for key, value in request.query_params.multi_items():
        match = _METADATA_FILTER.match(key)
        if match:
            metadata[match.group(1)] = value
    listed = page(store(request).listing(metadata), after=after, limit=limit)
    return {"object": "list", "data": listed["data"], "has_more": listed["has_more"]}


@router.get("/{job_id}")
def retrieve(request: Request, job_id: str) -> dict[str, Any]:
    return store(request).get(job_id).api_object()


@router.get("/{job_id}/events")
def events(
    request: Request,
    job_id: str,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> dict[str, Any]:
    newest_first = [masked(e) for e in reversed(store(request).get(job_id).job.events())]
    listed = page(newest_first, after=after, limit=limit)
    return {"object": "list", "data": listed["data"], "has_more": listed["has_more"]}


@router.get("/{job_id}/checkpoints")
def checkpoints(
    request: Request,
    job_id: str,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    newest_first = list(reversed(store(request).get(job_id).checkpoints()))
    return page(newest_first, after=after, limit=limit)


@router.post("/{job_id}/pause")
def pause(request: Request, job_id: str) -> dict[str, Any]:
    server_job = store(request).get(job_id)
    if server_job.job.status not in ("running", "pausing", "paused"):
        raise bad_request(
            f"Job {job_id} cannot be paused: it is {server_job.job.status}.", "fine_tuning_job_id"
        )
    server_job.job.pause()
    return server_job.api_object()


@router.post("/{job_id}/resume")
def resume(request: Request, job_id: str) -> dict[str, Any]:
    server_job = store(request).get(job_id)
    if server_job.job.status not in ("pausing", "paused"):
        raise bad_request(
            f"Job {job_id} cannot be resumed: it is {server_job.job.status}.", "fine_tuning_job_id"
        )
    store(request).resume(server_job.job)
    return server_job.api_object()


@router.post("/{job_id}/cancel")
def cancel(request: Request, job_id: str) -> dict[str, Any]:
    server_job = store(request).get(job_id)
    if server_job.job.status in TERMINAL:
        raise bad_request(
            f"Job {job_id} has already completed: it is {server_job.job.status}.",
            "fine_tuning_job_id",
        )
    server_job.job.cancel(wait=CANCEL_WAIT_S)
    return server_job.api_object()
