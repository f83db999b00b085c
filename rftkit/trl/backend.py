"""The ``trl-modal`` jobs backend: a task trained by TRL's GRPOTrainer in the Modal app.

The job's state lives in its folder on the ``rftkit-trl-runs`` volume (``status.json``,
``events.jsonl``, ``checkpoint-N/``), written by ``rftkit.trl.modal_app.train``; this class reads
it through a :class:`RunFolder` (the volume, or a local copy of the same layout, which is how the
tests read the offline wiring run). Launch and cancel go through Modal's API and need a Modal
token; without one they raise :class:`ModalUnavailable` saying what to do, and
:func:`rftkit.trl.describe.describe_job` shows the job that would run.

TRL jobs cannot pause: ``pause``/``resume`` raise and say so (cancel, then start a new job from a
checkpoint with ``resume_from_checkpoint``).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from rftkit.jobs.backend import BackendUnavailable, Job, Progress, Watching, no_options
from rftkit.jobs.forecast import Forecast
from rftkit.jobs.report import PreflightFailed as _PreflightFailed
from rftkit.jobs.report import Report
from rftkit.protocol import JobCheckpoint
from rftkit.task import RFTTask
from rftkit.trl.describe import describe_job, forecast
from rftkit.trl.jobspec import TRLJobSpec
from rftkit.trl.preflight import modal_credentials, preflight

TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class ModalUnavailable(BackendUnavailable):
    """No Modal token here: launching, cancelling and reading the volume need one."""


PreflightFailed = _PreflightFailed
"""Raised by :func:`launch_trl_modal` when a check fails (``rftkit.jobs.report``'s, kept here
for one release); the message is the whole report."""


class RunFolder(Protocol):
    def read(self, name: str) -> bytes | None: ...
    def names(self) -> list[str]: ...


class LocalRunFolder:
    """A job folder on disk (a copy from the volume, or a local run's output_dir)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self, name: str) -> bytes | None:
        file = self.path / name
        return file.read_bytes() if file.is_file() else None

    def names(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir()) if self.path.is_dir() else []


class VolumeRunFolder:
    """A job folder on the Modal volume, read through Modal's API."""

    def __init__(self, job_id: str):
        import modal

        from rftkit.trl.modal_app import RUNS_VOLUME

        if not modal_credentials():
            raise ModalUnavailable(_NO_TOKEN)
        self.job_id = job_id
        self.volume = modal.Volume.from_name(RUNS_VOLUME)

    def read(self, name: str) -> bytes | None:
        try:
            return b"".join(self.volume.read_file(f"{self.job_id}/{name}"))
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        return sorted(e.path.rsplit("/", 1)[-1] for e in self.volume.listdir(self.job_id))


_NO_TOKEN = (
    "no Modal credentials: run `modal setup` (or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET); "
    "offline, rftkit.trl.describe_job(task) shows the job that would run and its forecast"
)


class TRLModalJob(Watching):
    """One TRL job: a :class:`rftkit.jobs.backend.Job` like every backend's."""

    def __init__(
        self, job_id: str, folder: RunFolder, *, model: str = "", call_id: str | None = None
    ):
        self.id = job_id
        self.folder = folder
        self.model = model
        self.call_id = call_id
        self.created_at = int(time.time())

    @classmethod
    def attach(cls, job_id: str) -> TRLModalJob:
        """A job launched earlier, read from the volume (needs a Modal token)."""
        folder = VolumeRunFolder(job_id)
        spec = json.loads(folder.read("spec.json") or b"{}")
        call = json.loads(folder.read("call.json") or b"{}")
        return cls(job_id, folder, model=spec.get("model", ""), call_id=call.get("call_id"))

    # -- reading ---------------------------------------------------------------------------
    def _status(self) -> dict[str, Any]:
        raw = self.folder.read("status.json")
        return json.loads(raw) if raw else {"status": "queued", "error": None}

    @property
    def status(self) -> str:
        return self._status()["status"]

    def events(self, after: str | None = None) -> list[dict[str, Any]]:
        raw = self.folder.read("events.jsonl") or b""
        events = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        if after is not None:
            ids = [e["id"] for e in events]
            events = events[ids.index(after) + 1 :] if after in ids else events
        return events

    def stream(self, start: int = 0, poll: float = 10.0) -> Iterator[dict[str, Any]]:
        """Yield events from number ``start`` on, as they land on the volume, until the end."""
        seen = start
        while True:
            finished = self.status in TERMINAL
            events = self.events()
            yield from events[seen:]
            seen = len(events)
            if finished:
                return
            time.sleep(poll)

    def checkpoints(self) -> list[dict[str, Any]]:
        """``checkpoint-N`` folders, with the validation reward of step N when it was measured."""
        valid = {
            e["data"]["step"]: e["data"].get("full_valid_mean_reward")
            for e in self.events()
            if e.get("type") == "metrics"
        }
        found = []
        for name in self.folder.names():
            match = _CHECKPOINT.match(name)
            if match:
                step = int(match.group(1))
                checkpoint = JobCheckpoint(
                    id=f"ftckpt-trl-{self.id}-{step}",
                    step_number=step,
                    metrics={"valid_reward_mean": valid.get(step), "step": step},
                    path=f"{self.id}/{name}",
                )
                found.append(checkpoint.record())
        return sorted(found, key=lambda c: c["step_number"])

    def as_job(self) -> dict[str, Any]:
        state = self._status()
        error = state.get("error")
        return {
            "id": self.id,
            "object": "fine_tuning.job",
            "model": self.model,
            "created_at": self.created_at,
            "status": state["status"],
            "fine_tuned_model": f"{self.id}/final" if state["status"] == "succeeded" else None,
            "error": {"code": f"job_{state['status']}", "message": error, "param": None}
            if error
            else None,
            "method": {"type": "reinforcement"},
        }

    def wait(self, timeout: float | None = None, poll: float = 30.0) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status not in TERMINAL:
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(poll)
        return self.status

    # -- control ---------------------------------------------------------------------------
    def cancel(self) -> TRLModalJob:
        """Cancel the Modal function call and record ``cancelled`` (the container cannot);
        checkpoints already written stay on the volume. A job that already ended is left as is."""
        if not modal_credentials():
            raise ModalUnavailable(_NO_TOKEN)
        if self.status in TERMINAL:
            return self
        if self.call_id is None:  # the backend cannot reach the job's call: say what can
            raise BackendUnavailable(
                f"job {self.id} has no Modal call id on the volume (call.json): it was started "
                "by an older rftkit; stop it with `modal app stop rftkit-trl`"
            )
        import modal

        from rftkit.trl.modal_app import json_bytes, runs

        modal.FunctionCall.from_id(self.call_id).cancel(terminate_containers=True)
        body = {"status": "cancelled", "error": None, "updated_at": int(time.time())}
        with runs.batch_upload(force=True) as upload:
            upload.put_file(json_bytes(body), f"/{self.id}/status.json")
        return self

    def serve(self, checkpoint: str | None = None) -> str:
        """Deploy vLLM serving ``checkpoint`` (default: the last) and return its ``/v1`` URL.

        The checkpoint is baked into the serving image's environment at deploy time, so the
        app module is (re)loaded with it set."""
        if not modal_credentials():
            raise ModalUnavailable(_NO_TOKEN)
        import importlib

        from rftkit.trl import modal_app

        if checkpoint is None:
            saved = self.checkpoints()
            if not saved:
                raise RuntimeError(f"job {self.id} has no checkpoint on the volume yet")
            checkpoint = saved[-1]["path"].split("/", 1)[1]
        os.environ[modal_app.SERVE_ENV] = f"{self.id}/{checkpoint}"
        modal_app = importlib.reload(modal_app)
        modal_app.app.deploy()
        return modal_app.serve.get_web_url().rstrip("/") + "/v1"

    def pause(self, at_step: int | None = None) -> TRLModalJob:
        """Not possible: raises ``NotImplementedError`` saying what to do instead."""
        raise NotImplementedError(
            "TRL jobs on Modal cannot pause: cancel, then launch again with "
            "overrides={'resume_from_checkpoint': '<checkpoint path>'}"
        )

    def resume(self) -> TRLModalJob:
        return self.pause()


def launch_trl_modal(
    task: RFTTask,
    *,
    spec: TRLJobSpec | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | bool | None = None,
) -> TRLModalJob:
    """Preflight, then deploy the Modal app and spawn its ``train`` function for ``task``.
    (:func:`rftkit.jobs.launch` does the same through :class:`rftkit.jobs.backend.Backend`.)"""
    spec = spec or TRLJobSpec()
    report = preflight(task, spec, env)
    if not report.ok:
        raise PreflightFailed(report)
    return start_trl_modal(task, spec, on_progress=progress if callable(progress) else None)


def start_trl_modal(
    task: RFTTask, spec: TRLJobSpec, *, on_progress: Progress | None = None
) -> TRLModalJob:
    """Deploy the Modal app and spawn its ``train`` function (no checks: run preflight first).
    Without a Modal token: :class:`ModalUnavailable` saying what to do."""
    if not modal_credentials():
        raise ModalUnavailable(_NO_TOKEN)
    import modal

    from rftkit.trl.modal_app import APP_NAME, app, json_bytes, runs, upload_plan

    say = on_progress or (lambda _: None)
    job_id = f"ftjob-trl-{uuid.uuid4().hex[:12]}"
    say(f"deploying the Modal app {APP_NAME}")
    app.deploy()
    say(f"uploading the task to the runs volume as {job_id}")
    with runs.batch_upload() as upload:
        for path, remote in upload_plan(task, job_id).items():
            upload.put_file(path, remote)
    train = modal.Function.from_name(APP_NAME, "train").with_options(
        gpu=spec.gpu, timeout=spec.timeout_seconds
    )
    call = train.spawn(job_id, spec.to_json())
    say(f"spawned train on {spec.gpu}: call {call.object_id}")
    with runs.batch_upload() as upload:
        for name, body in (
            ("spec.json", spec.to_json()),
            ("call.json", {"call_id": call.object_id}),
        ):
            upload.put_file(json_bytes(body), f"/{job_id}/{name}")
    return TRLModalJob(job_id, VolumeRunFolder(job_id), model=spec.model, call_id=call.object_id)


class TRLModalBackend:
    """TRL's GRPOTrainer on Modal GPUs, laid out by ``spec`` (a ``TRLJobSpec``). Without a
    Modal token, launching and opening jobs raise ``ModalUnavailable`` saying what to do."""

    name = "trl-modal"

    def __init__(self, spec: TRLJobSpec | None = None):
        self.spec = spec or TRLJobSpec()

    def preflight(
        self, task: RFTTask, *, env: Mapping[str, str] | None = None, **options: Any
    ) -> Report:
        no_options("trl-modal preflight", options)
        return preflight(task, self.spec, env)

    def forecast(self, task: RFTTask, *, baseline: Any = None, **options: Any) -> Forecast:
        """Planned steps × seconds per step (no baseline needed), with the job table as
        ``detail``; ``seconds_per_step`` replaces the assumed or GPU-measured step time."""
        seconds = options.pop("seconds_per_step", None)
        no_options("trl-modal forecast", options)
        found = forecast(task, self.spec, seconds)
        return replace(found, detail=describe_job(task, self.spec, seconds))

    def launch(
        self,
        task: RFTTask,
        *,
        env: Mapping[str, str] | None = None,
        on_progress: Progress | None = None,
        **options: Any,
    ) -> Job:
        no_options("trl-modal launch", options)
        return start_trl_modal(task, self.spec, on_progress=on_progress)

    def open(self, job_id: str) -> Job:
        return TRLModalJob.attach(job_id)
