"""A job on OpenAI or Azure AI Foundry, a :class:`rftkit.jobs.backend.Job` like every backend's:
``status``, ``events()``, ``stream()``, ``watch()``, ``checkpoints()``, ``pause()``, ``resume()``,
``cancel()``, ``wait()``, ``as_job()``.

:func:`launch_hosted` never pays for the same task twice by accident:

- the task's content hash goes into the job's metadata, and a second launch of the same task
  returns the job already there (found by listing jobs with that metadata). Failed and cancelled
  jobs are not reused, so re-launching after a failure starts afresh; ``force=True`` creates a new
  job all the same;
- the create itself is sent once (the SDK would retry it without an idempotency key). Each launch
  also puts a launch id in the metadata, and after **any** error on the create the jobs with the
  task's hash are listed: a job carrying this launch's id was created after all, and is returned
  (``HostedJob.launch_note`` says what happened). Only when the listing shows no such job and the
  platform *answered* (5xx, 429) is the create sent again, at most ``create_attempts`` times in
  all. After a timeout or a dropped connection the platform may still be making the job, so the
  create is not repeated: the error says that no job exists yet and that running the launch again
  (which lists first) is safe.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import openai

from rftkit.jobs.backend import Watching
from rftkit.jobs.hosted.api import DEFAULT_TIMEOUT, HostedAPI, Platform, Progress
from rftkit.jobs.hosted.clients import client_for
from rftkit.jobs.hosted.errors import HostedJobError, platform_name
from rftkit.jobs.hosted.files import ensure_file
from rftkit.jobs.hosted.request import (
    LAUNCH_KEY,
    TASK_HASH_KEY,
    create_body,
    secret_values,
    uses_agent_rft,
)
from rftkit.jobs.rules import platform_rules
from rftkit.task import RFTTask

ACTIVE = ("validating_files", "queued", "pending", "running", "pausing")
FINISHED = ("succeeded", "failed", "cancelled")
NOT_REUSED = ("failed", "cancelled")
AMBIGUOUS = ("timeout", "unreachable")
"""Create failures after which the platform may still be making the job: never repeated."""
ANSWERED = ("server", "rate_limited")
"""Create failures where the platform answered: repeated once a listing shows no job."""
EVALS_GONE = (
    "per-step evaluation results are not available for this job: {why}. OpenAI's hosted Evals API, "
    "through which RFT validation runs were read, was reported shut down on 2026-11-30; read the "
    "validation rewards from the metrics events (events()) and the checkpoints instead."
)


class HostedJob(Watching):
    """One fine-tuning job on a hosted platform, read as raw JSON on every call."""

    def __init__(
        self,
        api: HostedAPI,
        job: Mapping[str, Any],
        *,
        reused: bool = False,
        launch_note: str | None = None,
        same_task: list[dict[str, Any]] | None = None,
    ):
        self.api = api
        self.id: str = job["id"]
        self.reused = reused
        self.launch_note = launch_note
        """Set when the create failed yet the job exists: what was said, how it was found."""
        self.same_task = list(same_task or [])
        """``{id, status}`` of every job with this task's hash after the launch (this one too)."""
        self._job = dict(job)

    def __repr__(self) -> str:
        return (
            f"HostedJob(id={self.id!r}, platform={self.api.platform!r}, "
            f"status={self._job.get('status')!r}, reused={self.reused})"
        )

    # -- reading ---------------------------------------------------------------------------------
    def refresh(self) -> dict[str, Any]:
        self._job = self.api.retrieve_job(self.id)
        return self._job

    def as_job(self) -> dict[str, Any]:
        """The job object as the platform last returned it (it masks header values itself)."""
        return dict(self._job)

    @property
    def status(self) -> str:
        """The status now (a fresh read): also ``pending``, ``pausing``, ``paused``."""
        return str(self.refresh().get("status"))

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._job.get("metadata") or {})

    @property
    def fine_tuned_model(self) -> str | None:
        return self._job.get("fine_tuned_model")

    def events(self, after: str | None = None) -> list[dict[str, Any]]:
        """Every event in time order; with ``after`` (an event id) only the later ones."""
        newest_first: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.api.events(self.id, cursor)
            data = page.get("data") or []
            ids = [e.get("id") for e in data]
            if after is not None and after in ids:
                newest_first += data[: ids.index(after)]
                break
            newest_first += data
            if not page.get("has_more") or not data:
                break
            cursor = data[-1]["id"]
        return newest_first[::-1]

    def stream(
        self, start: int = 0, poll: float = 10.0, sleep: Callable[[float], None] = time.sleep
    ) -> Iterator[dict[str, Any]]:
        """Yield events from number ``start`` on as they arrive, until the job stops running."""
        last: str | None = None
        skip = start
        while True:
            running = self.status in ACTIVE
            for event in self.events(after=last):
                last = event.get("id", last)
                if skip:
                    skip -= 1
                    continue
                yield event
            if not running:
                return
            sleep(poll)

    def checkpoints(self) -> list[dict[str, Any]]:
        """Checkpoints, newest first (for RFT the platform keeps the best three)."""
        return self.api.checkpoints(self.id)

    def eval_runs(self) -> list[dict[str, Any]]:
        """Per-step validation runs where the platform still offers them; otherwise
        :class:`LookupError` saying plainly that they are gone and where to look instead."""
        eval_id = self._job.get("eval_id")
        if not eval_id:
            raise LookupError(EVALS_GONE.format(why="the job names no eval"))
        try:
            return self.api.eval_runs(eval_id)
        except HostedJobError as exc:
            if exc.kind in ("not_found", "invalid", "refused") or exc.status == 410:
                raise LookupError(EVALS_GONE.format(why=str(exc))) from None
            raise

    # -- acting ----------------------------------------------------------------------------------
    def pause(self) -> HostedJob:
        self._job = self.api.job_action(self.id, "pause")
        return self

    def resume(self) -> HostedJob:
        self._job = self.api.job_action(self.id, "resume")
        return self

    def cancel(self) -> HostedJob:
        self._job = self.api.job_action(self.id, "cancel")
        return self

    def wait(
        self,
        timeout: float | None = None,
        poll: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> str:
        """Block until the job stops running (finished or paused) or ``timeout`` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (status := self.status) in ACTIVE:
            if deadline is not None and time.monotonic() >= deadline:
                break
            sleep(poll)
        return status


def open_job(
    platform: Platform,
    job_id: str,
    *,
    client: openai.OpenAI,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> HostedJob:
    """The job ``job_id`` on ``platform`` (HostedJobError if the platform has no such job)."""
    api = HostedAPI(client, platform, timeout=timeout, progress=progress)
    return HostedJob(api, api.retrieve_job(job_id))


def _summary(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": j["id"], "status": j.get("status")} for j in jobs]


def _said(error: HostedJobError) -> str:
    return str(error).rstrip(". ")


def _listed(jobs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{j['id']} ({j.get('status')})" for j in jobs) or "none"


def create_once(
    api: HostedAPI,
    body: Mapping[str, Any],
    *,
    attempts: int = 2,
    backoff: float = 2.0,
    known: list[dict[str, Any]] | None = None,
) -> HostedJob:
    """Create the job ``body`` describes without ever making two: see the module docstring.
    ``body["metadata"]`` must hold the task hash and a launch id unique to this call; ``known``
    are the jobs with that hash listed just before (reported beside the new one)."""
    task_hash, launch = body["metadata"][TASK_HASH_KEY], body["metadata"][LAUNCH_KEY]
    failures: list[HostedJobError] = []
    for attempt in range(1, attempts + 1):
        try:
            job = api.create_job(body)
        except HostedJobError as exc:
            failures.append(exc)
        else:
            listed = [job, *(known or [])]
            if failures:  # a failed attempt may have made jobs since: read the list again
                listed = api.list_jobs({TASK_HASH_KEY: task_hash})
            return HostedJob(api, job, same_task=_summary(listed))
        failure = failures[-1]
        try:
            listed = api.list_jobs({TASK_HASH_KEY: task_hash})
        except HostedJobError as listing:
            raise HostedJobError(
                f"{_said(failure)}. Whether the job was created is unknown: listing the jobs "
                f"with this task's hash failed too ({listing}). Run the launch again: it lists "
                "jobs by the task's hash before it creates one, so it cannot make a second",
                kind=failure.kind,
                status=failure.status,
            ) from None
        ours = [j for j in listed if (j.get("metadata") or {}).get(LAUNCH_KEY) == launch]
        if ours:
            note = (
                f"the create answered with an error ({failure}), yet the job was made: it was "
                f"found by the task's hash and this launch's id, and not created again"
            )
            return HostedJob(api, ours[0], launch_note=note, same_task=_summary(listed))
        exists = f"jobs with this task's hash now: {_listed(listed)}"
        if failure.kind in AMBIGUOUS:
            raise HostedJobError(
                f"{_said(failure)}. No job from this launch is listed ({exists}), but the "
                "platform may still be making it, so the create was not sent again. Run the "
                "launch again in a minute: it lists jobs by the task's hash first and creates "
                "one only if none exists",
                kind=failure.kind,
                status=failure.status,
            ) from None
        if failure.kind not in ANSWERED or attempt == attempts:
            tried = f"after {attempt} attempt(s) " if attempt > 1 else ""
            raise HostedJobError(
                f"{_said(failure)}. No job was created {tried}(listed by the task's hash after the "
                f"failure: {exists})",
                kind=failure.kind,
                status=failure.status,
            ) from None
        if api.progress is not None:
            api.progress(f"the create failed ({failure.status}) and no job was made; trying again")
        api.sleep(backoff * attempt)
    raise AssertionError("unreachable: the loop returns or raises")


def launch_hosted(
    platform: Platform,
    task: RFTTask,
    *,
    client: openai.OpenAI | None = None,
    env: Mapping[str, str] | None = None,
    force: bool = False,
    training_type: str | None = None,
    file_wait: Mapping[str, float] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    create_attempts: int = 2,
) -> HostedJob:
    """Create the job for ``task`` on ``platform`` through ``client`` (or return the one already
    launched from the same task, unless ``force``). Without ``client``, one is built from the
    environment (:func:`rftkit.jobs.hosted.clients.client_for`). ``timeout`` bounds each request
    (retries included); ``progress`` hears what is being waited for."""
    if client is None:
        client = client_for(platform)
    api = HostedAPI(
        client,
        platform,
        secrets=secret_values(task, env),
        timeout=timeout,
        progress=progress,
        agent_rft=uses_agent_rft(task),
    )
    broken = [m for _, severity, m in platform_rules(task, platform, str(client.base_url))
              if severity == "error"]  # fmt: skip
    if broken:
        raise HostedJobError(
            f"not launched, nothing sent: {platform_name(platform)} would refuse this job: "
            + "; ".join(broken),
            kind="invalid",
        )
    known = api.list_jobs({TASK_HASH_KEY: task.content_hash()})
    reusable = [j for j in known if j.get("status") not in NOT_REUSED]
    if reusable and not force:
        return HostedJob(api, reusable[0], reused=True, same_task=_summary(known))
    wait = {"progress": progress, **dict(file_wait or {})}
    train = ensure_file(api, task.path("train"), "train", **wait)
    valid_path = task.path("validation")
    valid = None if valid_path is None else ensure_file(api, valid_path, "validation", **wait)
    body = create_body(
        task,
        env,
        platform,
        training_file=train,
        validation_file=valid,
        training_type=training_type,
    )
    body["metadata"][LAUNCH_KEY] = uuid.uuid4().hex
    return create_once(api, body, attempts=create_attempts, known=known)
