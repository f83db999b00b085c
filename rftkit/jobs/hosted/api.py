"""The fine-tuning endpoints of OpenAI and Azure AI Foundry, called through the ``openai`` SDK and
read as raw JSON.

The SDK's response models type ``status`` without ``pending``/``pausing``/``paused`` and drop or
misparse Agent RFT fields (an endpoint grader comes back as a ``StringCheckGrader``), so every
call here goes through ``with_raw_response`` and returns the JSON the platform sent, with Azure's
differences made uniform by :func:`normalise_job` (docs/platforms.md §2).

Requests are plain dicts: the create body travels in ``extra_body`` so the SDK's TypedDict
transform never touches an endpoint grader or the job's ``tools``.

The client is injected and may be any of ``OpenAI()``, ``AzureOpenAI(azure_endpoint=...,
api_version=...)``, ``OpenAI(base_url="https://RES.openai.azure.com/openai/v1/")`` or a Foundry
project's ``get_openai_client()``; all expose the same resources.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import openai

from rftkit.jobs.hosted.errors import HostedJobError, explain

Platform = Literal["openai", "azure"]
MAX_PAGES = 20
"""Listing stops after this many pages of 100 (2,000 jobs or files), so a huge account never
turns one launch into an unbounded crawl."""


def _auto(value: Any) -> Any:
    return "auto" if value == -1 else value


def normalise_job(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A job object in OpenAI's shape: Azure's ``eval`` also as ``eval_id``, and hyperparameters
    Azure reads back as ``-1`` (left on auto) as ``"auto"``. ``status`` stays a plain string."""
    job = json.loads(json.dumps(raw))
    if not isinstance(job, dict) or not isinstance(job.get("id"), str):
        raise HostedJobError(
            "the platform answered with something that is not a job", kind="failed"
        )
    if "eval" in job and "eval_id" not in job:
        job["eval_id"] = job["eval"]
    places = [job.get("hyperparameters")]
    method = job.get("method")
    reinforcement = method.get("reinforcement") if isinstance(method, dict) else None
    if isinstance(reinforcement, dict):
        places.append(reinforcement.get("hyperparameters"))
    for hyper in places:
        if isinstance(hyper, dict):
            hyper.update({k: _auto(v) for k, v in hyper.items()})
    return job


class HostedAPI:
    """One platform's fine-tuning API. Errors become :class:`HostedJobError` with ``secrets``
    (the header values a request carried) masked; nothing here prints or logs a request."""

    def __init__(self, client: openai.OpenAI, platform: Platform, secrets: Iterable[str] = ()):
        self.client = client
        self.platform = platform
        self._secrets = tuple(secrets)

    def __repr__(self) -> str:
        return f"HostedAPI(platform={self.platform!r}, base_url={str(self.client.base_url)!r})"

    def _json(self, action: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs).http_response.json()
        except openai.OpenAIError as exc:
            raise explain(
                exc, platform=self.platform, action=action, secrets=self._secrets
            ) from None
        except ValueError as exc:  # a body that is not JSON
            raise HostedJobError(
                f"{action}: the platform answered with non-JSON ({exc})", kind="failed"
            ) from None

    def _pages(self, action: str, call: Callable[..., Any], **kwargs: Any) -> list[dict]:
        found: list[dict] = []
        after = None
        for _ in range(MAX_PAGES):
            page = self._json(
                action, call, limit=100, **({"after": after} if after else {}), **kwargs
            )
            data = page.get("data") or []
            found += data
            if not page.get("has_more") or not data:
                break
            after = data[-1]["id"]
        return found

    # -- jobs ----------------------------------------------------------------------------------
    @property
    def _jobs(self) -> Any:
        return self.client.fine_tuning.jobs.with_raw_response

    def create_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``fine_tuning/jobs`` with ``body`` exactly as given."""
        rest = {k: v for k, v in body.items() if k not in ("model", "training_file")}
        raw = self._json(
            "create the job",
            self._jobs.create,
            model=body["model"],
            training_file=body["training_file"],
            extra_body=rest,
        )
        return normalise_job(raw)

    def retrieve_job(self, job_id: str) -> dict[str, Any]:
        return normalise_job(self._json(f"read job {job_id}", self._jobs.retrieve, job_id))

    def list_jobs(self, metadata: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Jobs, newest first; with ``metadata``, only those whose metadata holds every pair (the
        platform filters, and the result is checked here too, as not every platform filters)."""
        options = {"metadata": dict(metadata)} if metadata else {}
        jobs = [normalise_job(j) for j in self._pages("list jobs", self._jobs.list, **options)]
        wanted = dict(metadata or {})
        return [j for j in jobs if wanted.items() <= (j.get("metadata") or {}).items()]

    def job_action(self, job_id: str, action: Literal["pause", "resume", "cancel"]) -> dict:
        return normalise_job(
            self._json(f"{action} job {job_id}", getattr(self._jobs, action), job_id)
        )

    def events(self, job_id: str, after: str | None = None) -> dict[str, Any]:
        """One page of events (the platform lists newest first): ``{data, has_more}``."""
        options = {"after": after} if after else {}
        return self._json(
            f"read the events of {job_id}", self._jobs.list_events, job_id, limit=100, **options
        )

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        listing = self.client.fine_tuning.jobs.checkpoints.with_raw_response.list
        return self._pages(f"list the checkpoints of {job_id}", lambda **kw: listing(job_id, **kw))

    # -- graders and files ---------------------------------------------------------------------
    def validate_grader(self, grader: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``fine_tuning/alpha/graders/validate``; the normalised grader, or the error."""
        validate = self.client.fine_tuning.alpha.graders.with_raw_response.validate
        return self._json("validate the grader", validate, grader={}, extra_body={"grader": grader})

    def list_files(self) -> list[dict[str, Any]]:
        listing = self.client.files.with_raw_response.list
        return self._pages("list files", listing, purpose="fine-tune")

    def upload_file(self, filename: str, content: bytes) -> dict[str, Any]:
        return self._json(
            f"upload {filename}",
            self.client.files.with_raw_response.create,
            file=(filename, content),
            purpose="fine-tune",
        )

    def retrieve_file(self, file_id: str) -> dict[str, Any]:
        return self._json(
            f"read file {file_id}", self.client.files.with_raw_response.retrieve, file_id
        )

    def eval_runs(self, eval_id: str) -> list[dict[str, Any]]:
        """The runs of a job's eval (one per validation step), where the platform offers them."""
        listing = self.client.evals.runs.with_raw_response.list
        return self._pages(f"list the runs of eval {eval_id}", lambda **kw: listing(eval_id, **kw))
