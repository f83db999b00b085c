"""A stand-in for the fine-tuning endpoints of OpenAI and Azure AI Foundry, for contract tests.

Test-only. It records every request (method, path, query, JSON body or uploaded file name) so
tests can check the bodies the real ``openai`` client sends, and answers in the platforms'
shapes: with ``azure=True`` as Azure does (status ``pending`` first, ``eval`` instead of
``eval_id``, ``-1`` for hyperparameters left on auto, ``trainingType``). Header values are
echoed masked, as both platforms do. Failures are injected per operation with ``fail``; the
create can also fail *after* making the job (``fail_after_create``: the answer is an error, the
job exists), drop the connection after making it (``drop_after_create``), and any operation can
hang (``hang``: it answers nothing for ``hang_s`` seconds). The create enforces the platforms'
published rules: hyperparameter ranges, and on Azure a validation file.
Jobs advance one status per retrieve, adding a metrics event each time.
"""

from __future__ import annotations

import asyncio
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
    fail_after_create: tuple[int, dict] | None = None
    """The create makes the job, then answers with this (status, body)."""
    drop_after_create: bool = False
    """The create makes the job, then closes the connection without an answer."""
    hang: set[str] = field(default_factory=set)
    """Operations that answer nothing for ``hang_s`` seconds."""
    hang_s: float = 20.0
    fail_job: dict[str, str] | None = None
    """When set, a job's next status read ends it ``failed`` with this ``error``."""
    deployments: dict[str, dict] = field(default_factory=dict)
    """Azure Resource Manager deployments by name; a model answers only through one."""


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        masked = {k: _mask(v) for k, v in value.items()}
        if isinstance(value.get("headers"), dict):
            masked["headers"] = dict.fromkeys(value["headers"], "**********")
        return masked
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


HYPERPARAMETER_LIMITS = {  # the published OpenAPI spec's FineTuneReinforcementHyperparameters
    "n_epochs": (int, 1, 50),
    "batch_size": (int, 1, 256),
    "compute_multiplier": (float, 0.00001, 10),
    "eval_interval": (int, 1, None),
    "eval_samples": (int, 1, None),
    "learning_rate_multiplier": (float, 0, None),
}


def _invalid(message: str, param: str, code: str = "invalid_value") -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=400)


def _rule_broken(body: dict, azure: bool) -> JSONResponse | None:
    if azure and not body.get("validation_file"):
        return _invalid(
            "Both a training and a validation dataset must be provided.", "validation_file"
        )
    hyper = ((body.get("method") or {}).get("reinforcement") or {}).get("hyperparameters") or {}
    for name, value in hyper.items():
        if name not in HYPERPARAMETER_LIMITS or value == "auto":
            continue
        kind, low, high = HYPERPARAMETER_LIMITS[name]
        whole = kind is float or (isinstance(value, int) and not isinstance(value, bool))
        if not whole or value < low or (high is not None and value > high):
            return _invalid(
                f"Invalid hyperparameter {name}: {value!r}",
                f"method.reinforcement.hyperparameters.{name}",
            )
    return None


def drop_after_create(app: Any, state: FakeState) -> Any:
    """ASGI wrapper: when ``state.drop_after_create``, a create's answer is cut off after its
    headers (the server closes the connection), once the job is made."""

    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        creating = (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].endswith("/fine_tuning/jobs")
            and state.drop_after_create
        )
        if not creating:
            await app(scope, receive, send)
            return

        async def cut(message: dict) -> None:
            if message["type"] == "http.response.start":
                await send(message)
                raise ConnectionAbortedError("the fake drops the connection after the create")

        await app(scope, receive, cut)

    return wrapped


def fake_openai_app(state: FakeState) -> Any:
    ids = itertools.count(1)
    router = APIRouter()
    stages = (
        ["pending", "validating_files", "queued", "running", "running", "succeeded"]
        if state.azure
        else ["validating_files", "queued", "running", "running", "succeeded"]
    )

    async def hung(operation: str) -> None:
        if operation in state.hang:
            await asyncio.sleep(state.hang_s)

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
                "retry_count": request.headers.get("x-stainless-retry-count"),
                "idempotency_key": request.headers.get("idempotency-key"),
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
        await hung("create_job")
        if failed := failure("create_job") or _rule_broken(body, state.azure):
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
        if state.fail_after_create is not None:
            status, error = state.fail_after_create
            return JSONResponse(error, status_code=status)
        return shown(job)

    @router.get("/fine_tuning/jobs")
    async def list_jobs(request: Request) -> Any:
        await record(request)
        await hung("list_jobs")
        if failed := failure("list_jobs"):
            return failed
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
        await hung("retrieve_job")
        if failed := failure("retrieve_job"):
            return failed
        if job_id not in state.jobs:
            return JSONResponse({"error": {"message": f"no job {job_id}"}}, status_code=404)
        job = state.jobs[job_id]
        if state.fail_job is not None and job["status"] not in ("failed", "succeeded"):
            job.update(status="failed", error=dict(state.fail_job), finished_at=int(time.time()))
            event(job_id, f"Job failed: {state.fail_job['message']}")
            return shown(job)
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

    @router.post("/responses")
    async def respond(request: Request) -> Any:
        body = await request.json()
        await record(request, {"model": body.get("model")})
        deployment = state.deployments.get(body.get("model"))
        ready = deployment and deployment["properties"]["provisioningState"] == "Succeeded"
        if state.azure and not ready:
            message = "The API deployment for this resource does not exist."
            return JSONResponse(
                {"error": {"code": "DeploymentNotFound", "message": message}}, status_code=404
            )
        text = {"type": "output_text", "text": "4", "annotations": []}
        return {
            "id": f"resp_{next(ids)}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body.get("model"),
            "output": [{"type": "message", "id": f"msg_{next(ids)}", "role": "assistant",
                        "status": "completed", "content": [text]}],
        }  # fmt: skip

    arm = APIRouter(
        prefix="/subscriptions/{sub}/resourceGroups/{group}/providers/"
        "Microsoft.CognitiveServices/accounts/{account}/deployments"
    )

    @arm.put("/{name}")
    async def create_deployment(name: str, request: Request) -> Any:
        body = await request.json()
        await record(request, body)
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"error": {"code": "AuthenticationFailed"}}, status_code=401)
        models = {j["fine_tuned_model"] for j in state.jobs.values()}
        if body["properties"]["model"]["name"] not in models:
            error = {"code": "DeploymentModelNotSupported", "message": "no such model"}
            return JSONResponse({"error": error}, status_code=400)
        body["properties"]["provisioningState"] = "Creating"
        state.deployments[name] = {"name": name, **body}
        return state.deployments[name]

    @arm.get("/{name}")
    async def read_deployment(name: str, request: Request) -> Any:
        await record(request)
        deployment = state.deployments[name]
        deployment["properties"]["provisioningState"] = "Succeeded"
        return deployment

    app = FastAPI()
    for prefix in ("/v1", "/openai/v1", "/openai"):
        app.include_router(router, prefix=prefix)
    app.include_router(arm)
    return drop_after_create(app, state)
