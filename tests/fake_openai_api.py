"""A stand-in for the fine-tuning endpoints of OpenAI and Azure AI Foundry, for contract tests.

Test-only. It records every request (method, path, query, JSON body or uploaded file name) so
tests can check the bodies the real ``openai`` client sends, and answers in the platforms'
shapes: with ``azure=True`` as Azure does (status ``pending`` first, ``eval`` instead of
``eval_id``, ``-1`` for hyperparameters left on auto, ``trainingType``). Header values are
echoed masked, as both platforms do. Failures are injected per operation with ``fail``.
Jobs advance one status per retrieve, adding a metrics event each time.
"""

from __future__ import annotations

import copy
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request, UploadFile
from fastapi.responses import JSONResponse

GRADER_TYPES = {"string_check", "text_similarity", "python", "score_model", "multi", "endpoint"}


@dataclass
class FakeState:
    """What the fake holds and has seen; tests read ``requests`` and set ``fail``."""

    azure: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)
    events: dict[str, list[dict]] = field(default_factory=dict)
    fail: dict[str, tuple[int, dict]] = field(default_factory=dict)
    """operation (``create_job``, ``validate_grader``, ``upload``, ...) -> (status, JSON body)."""
    evals_gone: bool = True
    stage: dict[str, int] = field(default_factory=dict)
    file_error: str | None = None
    """When set, uploaded files end in status ``error`` with these details."""


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        masked = {k: _mask(v) for k, v in value.items()}
        if isinstance(value.get("headers"), dict):
            masked["headers"] = dict.fromkeys(value["headers"], "**********")
        return masked
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def fake_openai_app(state: FakeState) -> FastAPI:
    ids = itertools.count(1)
    router = APIRouter()
    stages = (
        ["pending", "validating_files", "queued", "running", "running", "succeeded"]
        if state.azure
        else ["validating_files", "queued", "running", "running", "succeeded"]
    )

    def failure(operation: str) -> JSONResponse | None:
        if operation in state.fail:
            status, body = state.fail[operation]
            return JSONResponse(body, status_code=status)
        return None

    async def record(request: Request, body: Any = None) -> None:
        state.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "body": body,
            }
        )

    def page(items: list[dict], request: Request) -> dict:
        limit = int(request.query_params.get("limit", 20))
        after = request.query_params.get("after")
        ids_ = [i["id"] for i in items]
        start = ids_.index(after) + 1 if after in ids_ else 0
        chunk = items[start : start + limit]
        return {"object": "list", "data": chunk, "has_more": start + limit < len(items)}

    def event(job_id: str, message: str, type_: str = "message", data: Any = None) -> None:
        state.events[job_id].append(
            {
                "id": f"ftevent-{next(ids)}",
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()),
                "level": "info",
                "message": message,
                "type": type_,
                "data": data or {},
            }
        )

    def shown(job: dict) -> dict:
        job = _mask(copy.deepcopy(job))
        if state.azure:
            hyper = job["method"]["reinforcement"].setdefault("hyperparameters", {})
            for name in ("n_epochs", "batch_size", "compute_multiplier", "eval_interval"):
                hyper.setdefault(name, -1)
            job["eval"] = job.pop("eval_id")
        return job

    # -- files -----------------------------------------------------------------------------------
    @router.post("/files")
    async def upload(request: Request, file: UploadFile) -> Any:
        form = await request.form()
        content = await file.read()
        await record(request, {"filename": file.filename, "purpose": form.get("purpose")})
        if failed := failure("upload"):
            return failed
        file_id = f"file-{next(ids)}"
        state.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": file.filename,
            "purpose": form.get("purpose"),
            "status": "pending" if state.azure else "uploaded",
        }
        return state.files[file_id]

    @router.get("/files")
    async def list_files(request: Request) -> Any:
        await record(request)
        purpose = request.query_params.get("purpose")
        files = [f for f in state.files.values() if purpose in (None, f["purpose"])]
        return page(files[::-1], request)

    @router.get("/files/{file_id}")
    async def get_file(file_id: str, request: Request) -> Any:
        await record(request)
        file = state.files[file_id]
        if state.file_error:
            file.update(status="error", status_details=state.file_error)
        else:
            file["status"] = "processed"
        return file

    # -- jobs ------------------------------------------------------------------------------------
    @router.post("/fine_tuning/jobs")
    async def create(request: Request) -> Any:
        body = await request.json()
        await record(request, body)
        if failed := failure("create_job"):
            return failed
        job_id = f"ftjob-{next(ids)}"
        job = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "finished_at": None,
            "model": body["model"],
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "status": stages[0],
            "fine_tuned_model": None,
            "seed": body.get("seed", 1234),
            "metadata": body.get("metadata"),
            "method": body["method"],
            "error": None,
            "eval_id": f"eval_{job_id}",
        }
        if state.azure:
            job["trainingType"] = body.get("trainingType", "standard")
        state.jobs[job_id] = job
        state.events[job_id] = []
        event(job_id, "Created fine-tuning job")
        return shown(job)

    @router.get("/fine_tuning/jobs")
    async def list_jobs(request: Request) -> Any:
        await record(request)
        wanted = {
            k[len("metadata[") : -1]: v
            for k, v in request.query_params.items()
            if k.startswith("metadata[")
        }
        jobs = [
            shown(j)
            for j in reversed(state.jobs.values())
            if wanted.items() <= (j["metadata"] or {}).items()
        ]
        return page(jobs, request)

    @router.get("/fine_tuning/jobs/{job_id}")
    async def retrieve(job_id: str, request: Request) -> Any:
        await record(request)
        if failed := failure("retrieve_job"):
            return failed
        if job_id not in state.jobs:
            return JSONResponse({"error": {"message": f"no job {job_id}"}}, status_code=404)
        job = state.jobs[job_id]
        stage = state.stage.get(job_id, 0)
        if job["status"] == stages[stage] and stage + 1 < len(stages):
            state.stage[job_id] = stage + 1
            job["status"] = stages[stage + 1]
            if job["status"] == "running":
                step = sum(e["type"] == "metrics" for e in state.events[job_id]) + 1
                event(
                    job_id,
                    f"Step {step}/2, train mean reward={0.25 * step:.2f}",
                    "metrics",
                    {"step": step, "total_steps": 2, "train_mean_reward": 0.25 * step},
                )
            if job["status"] == "succeeded":
                job["finished_at"] = int(time.time())
                job["fine_tuned_model"] = f"ft:{job['model']}:fake:{job_id}"
                event(job_id, "The job has successfully completed")
        return shown(job)

    @router.post("/fine_tuning/jobs/{job_id}/{action}")
    async def act(job_id: str, action: str, request: Request) -> Any:
        await record(request)
        job = state.jobs[job_id]
        job["status"] = {"pause": "paused", "resume": "running", "cancel": "cancelled"}[action]
        event(job_id, f"Job {job['status']}")
        return shown(job)

    @router.get("/fine_tuning/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> Any:
        await record(request)
        return page(state.events[job_id][::-1], request)

    @router.get("/fine_tuning/jobs/{job_id}/checkpoints")
    async def checkpoints(job_id: str, request: Request) -> Any:
        await record(request)
        job = state.jobs[job_id]
        done = job["status"] == "succeeded"
        items = [
            {
                "id": f"ftckpt-{job_id}-2",
                "object": "fine_tuning.job.checkpoint",
                "created_at": job["finished_at"],
                "fine_tuned_model_checkpoint": f"ft:{job['model']}:fake:{job_id}:ckpt-step-2",
                "fine_tuning_job_id": job_id,
                "step_number": 2,
                "metrics": {"step": 2, "full_valid_mean_reward": 0.5},
            }
        ]
        return page(items if done else [], request)

    # -- graders and evals -----------------------------------------------------------------------
    @router.post("/fine_tuning/alpha/graders/validate")
    async def validate(request: Request) -> Any:
        body = await request.json()
        await record(request, body)
        if failed := failure("validate_grader"):
            return failed
        grader = body.get("grader") or {}
        if grader.get("type") not in GRADER_TYPES:
            return JSONResponse(
                {
                    "error": {
                        "message": f"Invalid grader: unknown type {grader.get('type')!r}",
                        "type": "invalid_request_error",
                        "param": "grader.type",
                        "code": None,
                    }
                },
                status_code=400,
            )
        return {"grader": _mask(grader)}

    @router.get("/evals/{eval_id}/runs")
    async def eval_runs(eval_id: str, request: Request) -> Any:
        await record(request)
        if state.evals_gone:
            return JSONResponse({"error": {"message": "Not found"}}, status_code=404)
        return page([{"id": "evalrun_1", "name": "Step 2", "status": "completed"}], request)

    app = FastAPI()
    for prefix in ("/v1", "/openai/v1", "/openai"):
        app.include_router(router, prefix=prefix)
    return app
