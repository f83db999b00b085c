"""The local API's fine-tuning jobs: each create request becomes a task trained by a local job.

A create request becomes an :class:`~rftkit.task.RFTTask` whose files are the uploaded ones in
the data dir, whose grader is the request's grader and whose tools are the request's
``method.reinforcement.tools``; a :class:`~rftkit.jobs.local.LocalJob` trains it (real rollouts
against those tool URLs, real grading, GRPO). The request's shapes are
:mod:`rftkit.protocol`'s; the routes are in :mod:`rftkit.api.jobs`.

Header values in the request are real secrets. They are swapped for ``${RFTKIT_API_N}``
references before the task is built and their values live only in the job's in-memory ``env``
(the way a task file keeps references and the environment keeps values): nothing on disk, in a
log or in a response holds them, and the job object echoes them masked (``**********``) as the
service does. URLs are shown with their userinfo and secret-looking query values masked
(``rftkit.secrets``) in job objects, lists and events.

Limits, as a server others can reach needs them: hyperparameters within
the published ranges (``rftkit.jobs.rules``) and :data:`LOCAL_CAPS` where none is published,
tool and endpoint-grader URLs allowed by the server's outbound policy (``rftkit.outbound``;
checked at create and again on every connection), and at most ``max_running`` jobs training at
once — the rest wait ``queued`` and start in creation order, as the hosted service queues them.

A team's own task: the committed base model knows only the course's tools, so a server started
with a reference solver (``rftkit api serve --warm-start MODULE:FUNCTION``, ``serve_api(warm_start=
...)``) warm-starts every job's model from it (``rftkit.local.warmstart``) before GRPO, as
``launch("local", task, warm_start=...)`` does; a job on an ``ft:`` model of this server trains on
from that model instead. The solver is the server's setting, never the request's: naming a module
to import is running its code, and a job request comes from whoever can reach the API with its
key, over HTTP. A per-job name would hand them the server's interpreter (``os:system`` is a
``module:function`` too) unless checked against an allow-list the server holds anyway, so the
server names the one solver it trusts, loaded when it starts, and a request body cannot name
another (an unknown field is a 400, as every other one; ``metadata`` is never read as code). The
create call stays the hosted one: only the base URL and key differ.
"""

from __future__ import annotations

import math
import threading
import uuid
from copy import deepcopy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rftkit import outbound
from rftkit.api.errors import APIError, bad_request, not_found
from rftkit.api.files import FileStore, checked, invalid_file_message
from rftkit.api.graders import check_urls, checked_grader
from rftkit.graders.endpoint import endpoint_urls
from rftkit.jobs.local import LocalJob
from rftkit.jobs.rules import HYPERPARAMETER_LIMITS
from rftkit.local.warmstart import WarmStartConfig
from rftkit.protocol import Job, JobCheckpoint, JobCreateRequest, JobTool, ReinforcementMethod
from rftkit.rollouts.solver import Solver
from rftkit.secrets import map_headers, masked
from rftkit.task import HYPERPARAMETERS, RFTTask, TaskTool

MAX_RUNNING_JOBS = 1
"""Jobs training at once by default: each takes the CPU's cores; more would only share them."""
MAX_TRIAGE_TASKS = 256
"""Training lines an API job's triage tries (unless the server's own GRPO settings say): a
training file may hold millions of lines, and triage rolls each out several times before step 1."""
LOCAL_CAPS: dict[str, float] = {
    "eval_interval": 10_000,
    "eval_samples": 64,
    "learning_rate_multiplier": 100,
}
"""Bounds this server adds where the hosted API publishes none (``rftkit.jobs.rules`` holds the
published ranges): a server others can reach must not accept unbounded work."""


class ServerJob:
    """A local job and what its create request said, as the API shows it."""

    def __init__(self, job: LocalJob, request: JobCreateRequest, method_echo: dict[str, Any]):
        self.job = job
        self.request_model = request.model
        self.training_file = request.training_file
        self.validation_file = request.validation_file
        self.suffix = request.suffix
        self.metadata = dict(request.metadata or {})
        self.method_echo = method_echo

    def api_object(self) -> dict[str, Any]:
        """The job as the API shows it, every URL in it masked."""
        body = self.job.as_job()
        body.update(
            model=self.request_model,
            training_file=self.training_file,
            validation_file=self.validation_file,
            metadata=dict(self.metadata),
            method=deepcopy(self.method_echo),
            hyperparameters=None,
            user_provided_suffix=self.suffix,
            organization_id="org-rftkit-local",
            result_files=[],
            trained_tokens=None,
            estimated_finish=None,
            integrations=[],
        )
        return masked(Job.model_validate(body).model_dump())

    def checkpoints(self) -> list[dict[str, Any]]:
        """Checkpoints in the API's shape, each usable as a model by its id."""
        return [
            JobCheckpoint(
                id=checkpoint["id"],
                created_at=checkpoint["created_at"],
                fine_tuned_model_checkpoint=checkpoint_model(self.job, checkpoint),
                fine_tuning_job_id=self.job.id,
                step_number=checkpoint["step_number"],
                metrics=dict(checkpoint["metrics"]),
            ).model_dump()
            for checkpoint in self.job.checkpoints()
        ]


def checkpoint_model(job: LocalJob, checkpoint: dict[str, Any]) -> str:
    return f"{job.model_name}:ckpt-step-{checkpoint['step_number']}"


def split_secrets(
    tools: list[JobTool], grader: dict[str, Any]
) -> tuple[list[TaskTool], dict[str, Any], dict[str, str]]:
    """Tools and grader with every header value replaced by a reference, and the values."""
    env: dict[str, str] = {}

    def reference(value: str) -> str:
        name = f"RFTKIT_API_{len(env)}"
        env[name] = value
        return f"${{{name}}}"

    task_tools = [
        TaskTool(
            name=tool.name,
            server_url=tool.server_url,
            headers={k: reference(v) for k, v in tool.headers.items()},
        )
        for tool in tools
    ]
    return task_tools, map_headers(grader, lambda _path, _name, value: reference(value)), env


def check_hyperparameters(values: dict[str, Any]) -> None:
    """400 naming the first hyperparameter outside its published range or :data:`LOCAL_CAPS`."""
    for name, value in values.items():
        limit = HYPERPARAMETER_LIMITS.get(name)
        if limit is None or value == "auto":
            continue
        problem = limit.problem(value)
        if problem is None and value > LOCAL_CAPS.get(name, math.inf):
            problem = f"must be at most {LOCAL_CAPS[name]:g} on this local server"
        if problem is not None:
            raise bad_request(
                f"Invalid method.reinforcement.hyperparameters.{name}: it {problem} "
                f"(published range: {limit.text()}).",
                f"method.reinforcement.hyperparameters.{name}",
                "invalid_value",
            )


class JobStore:
    """The server's jobs, in memory; their checkpoints under ``root``. At most ``max_running``
    train at once; a scheduler thread starts queued ones in creation order. ``warm_start`` (the
    server's reference solver, loaded) warm-starts every job not on an ``ft:`` model, with
    ``warm_start_config`` (default: the local backend's, seeded by the job)."""

    def __init__(
        self,
        root: Path,
        files: FileStore,
        grpo: dict[str, Any] | None = None,
        policy: outbound.OutboundPolicy | None = None,
        max_running: int = MAX_RUNNING_JOBS,
        warm_start: Solver | None = None,
        warm_start_config: WarmStartConfig | None = None,
    ) -> None:
        if max_running < 1:
            raise ValueError(f"max_running must be at least 1, not {max_running}")
        self.root = root
        self.files = files
        self.grpo = dict(grpo or {})
        self.outbound = policy or outbound.OutboundPolicy()
        self.max_running = max_running
        self.warm_start = warm_start
        self.warm_start_config = warm_start_config
        self.jobs: dict[str, ServerJob] = {}
        self._lock = threading.Lock()
        self._queue: list[LocalJob] = []
        self._closed = threading.Event()
        self._scheduler: threading.Thread | None = None

    def _running(self) -> int:
        return sum(j.job.status in ("running", "pausing") for j in self.jobs.values())

    def _admit(self) -> None:
        """Start queued jobs (and resumed ones waiting for a slot) while fewer than
        ``max_running`` train."""
        with self._lock:
            running = self._running()
            while self._queue and running < self.max_running:
                job = self._queue.pop(0)
                if job.status not in ("queued", "paused"):  # cancelled while it waited
                    continue
                with outbound.applying(self.outbound):  # the job's thread keeps the policy
                    job.start()
                running += 1

    def _schedule(self) -> None:
        while not self._closed.wait(0.2):
            self._admit()

    def resume(self, job: LocalJob) -> None:
        """Resume ``job`` now if a slot is free, else first in line: the cap holds for resumed
        jobs too (the job stays ``paused`` until its turn, and an event says it waits)."""
        job.wait()  # a pausing job finishes its step first
        with self._lock:
            if self._running() < self.max_running:
                with outbound.applying(self.outbound):  # the resumed thread keeps the policy
                    job.resume()
            elif job not in self._queue:
                self._queue.insert(0, job)
                job.trainer.emit(
                    f"Resume requested: waiting for a free slot ({self.max_running} job(s) "
                    "train at once on this server)"
                )

    def close(self) -> None:
        """Stop starting queued jobs (the server is shutting down)."""
        self._closed.set()

    def get(self, job_id: str) -> ServerJob:
        if job_id not in self.jobs:
            raise not_found(f"Could not find fine-tuning job: {job_id}", "fine_tuning_job_id")
        return self.jobs[job_id]

    def base_for(self, model: str) -> str:
        """What the local engine starts from for ``model``: the base, a checkpoint, or a
        hosted id it stands in for (the job says so in a warning event)."""
        if model.startswith("ft:"):
            path = self.checkpoint_path(model)
            if path is None:
                raise bad_request(
                    f"Model {model} is not available for fine-tuning or does not exist.",
                    "model",
                    "model_not_available",
                )
            return str(path)
        if model.endswith(".pt") or "/" in model or "\\" in model:
            raise bad_request(f"Model {model} is not a model id.", "model", "model_not_available")
        return model

    def checkpoint_path(self, model: str) -> Path | None:
        """The weights behind an ``ft:`` id: a succeeded job's last checkpoint, or one step's."""
        for server_job in list(self.jobs.values()):
            job = server_job.job
            checkpoints = job.checkpoints()
            if model == job.fine_tuned_model and checkpoints:
                return Path(checkpoints[-1]["path"])
            for checkpoint in checkpoints:
                if model == checkpoint_model(job, checkpoint):
                    return Path(checkpoint["path"])
        return None

    def create(self, request: JobCreateRequest) -> ServerJob:
        spec = reinforcement_spec(request)
        check_hyperparameters(spec.hyperparameters)
        grader = checked_grader(spec.grader, "method.reinforcement.grader")
        urls = [(f"method.reinforcement.tools[{i}].server_url", t.server_url)
                for i, t in enumerate(spec.tools)]  # fmt: skip
        check_urls(self.outbound, urls + endpoint_urls(grader, "method.reinforcement.grader"))
        train = self._file(request.training_file, "training_file")
        valid = self._file(request.validation_file, "validation_file")
        tools, grader_refs, env = split_secrets(spec.tools, grader)
        try:
            task = RFTTask(
                name=request.suffix or "api-job",
                training_file=train,
                validation_file=valid,
                grader=grader_refs,
                tools=tools,
                max_episode_steps=spec.max_episode_steps,
                model=self.base_for(request.model),
                hyperparameters=spec.hyperparameters,
                suffix=request.suffix,
                seed=request.seed,
                response_format=spec.response_format,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            param = {
                "hyperparameters": "method.reinforcement.hyperparameters",
                "response_format": "method.reinforcement.response_format",
            }.get(where.split(".")[0], where)
            raise bad_request(
                f"Invalid {where or 'job'}: {first['msg']}", param, "invalid_value"
            ) from None
        self._check_data(task, request, grader)
        try:
            grpo = {"triage_tasks": MAX_TRIAGE_TASKS, **self.grpo}
            trains_on = request.model.startswith("ft:")  # that model knows the task's tools
            job = LocalJob(
                task, env=env, grpo=grpo, out_dir=self.root / uuid.uuid4().hex,
                warm_start=None if trains_on else self.warm_start,
                warm_start_config=self.warm_start_config,
            )  # fmt: skip
        except ValueError as exc:
            raise bad_request(f"The job cannot start: {exc}", None, "invalid_job") from None
        job.metadata = dict(request.metadata or {})
        server_job = ServerJob(job, request, echoed_method(task, spec))
        with self._lock:
            self.jobs[job.id] = server_job
            self._queue.append(job)
            if self._scheduler is None:
                self._scheduler = threading.Thread(
                    target=self._schedule, name="rftkit-api-jobs", daemon=True
                )
                self._scheduler.start()
        self._admit()
        return server_job

    def _file(self, file_id: str | None, param: str) -> Path:
        if file_id is None:
            raise bad_request(
                f"Missing required parameter: '{param}' (reinforcement fine-tuning needs a "
                "validation file).",
                param,
                "missing_required_parameter",
            )
        try:
            self.files.get(file_id, param)
        except APIError:
            raise bad_request(f"File {file_id} not found.", param, "invalid_file_id") from None
        return self.files.path(file_id)

    def _check_data(self, task: RFTTask, request: JobCreateRequest, grader: dict) -> None:
        names = [tool.name for tool in task.tools] or None
        for split, param, other in (
            ("train", "training_file", "validation"),
            ("validation", "validation_file", "train"),
        ):
            report = checked(
                task.path(split), split=split, grader=grader, tool_names=names,
                other_split=task.path(other),
            )  # fmt: skip
            if report.errors:
                filename = self.files.get(getattr(request, param))["filename"]
                raise bad_request(
                    invalid_file_message(filename, report.errors), param, f"invalid_{param}"
                )

    def listing(self, metadata: dict[str, str]) -> list[dict[str, Any]]:
        jobs = [
            j.api_object()
            for j in self.jobs.values()
            if all(j.metadata.get(k) == v for k, v in metadata.items())
        ]
        return sorted(jobs, key=lambda j: (j["created_at"], j["id"]), reverse=True)


def reinforcement_spec(request: JobCreateRequest) -> ReinforcementMethod:
    """The request's ``method.reinforcement``; 400 for what the local engine cannot train."""
    method = request.method
    if method is None or method.type != "reinforcement" or method.reinforcement is None:
        kind = "none" if method is None else method.type
        raise bad_request(
            f"Only method.type='reinforcement' with a 'reinforcement' object is served by the "
            f"local API, not {kind!r}.",
            "method",
            "unsupported_value",
        )
    if request.hyperparameters:
        raise bad_request(
            "Top-level hyperparameters are deprecated for this method; use "
            "method.reinforcement.hyperparameters.",
            "hyperparameters",
            "invalid_value",
        )
    return method.reinforcement


def echoed_method(task: RFTTask, spec: ReinforcementMethod) -> dict[str, Any]:
    """``method`` as the service echoes it: headers masked, unset hyperparameters as auto."""
    method = task.reinforcement_method(redact=True)
    body = method["reinforcement"]
    hyperparameters = {name: "auto" for name in HYPERPARAMETERS} | {"reasoning_effort": "default"}
    body["hyperparameters"] = hyperparameters | dict(spec.hyperparameters)
    body["max_episode_steps"] = spec.max_episode_steps
    body.setdefault("response_format", None)
    return method
