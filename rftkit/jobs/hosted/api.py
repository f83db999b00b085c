"""The fine-tuning endpoints of OpenAI and Azure AI Foundry, called through the ``openai`` SDK and
read as raw JSON.

The SDK's response models type ``status`` without ``pending``/``pausing``/``paused`` and drop or
misparse Agent RFT fields (an endpoint grader comes back as a ``StringCheckGrader``), so every
call here goes through ``with_raw_response`` and returns the JSON the platform sent, with Azure's
differences made uniform by :func:`normalise_job` (docs/platforms.md §2).

Requests are plain dicts: the create body travels in ``extra_body`` so the SDK's TypedDict
transform never touches an endpoint grader or the job's ``tools``.

Time and retries are decided here, not by the SDK. The SDK's defaults (600 s per attempt, two
retries, and a retried POST carries no ``Idempotency-Key`` for these endpoints) would let a hung
platform print nothing for half an hour and would turn one job create that failed *after* the job
was made into three paid jobs. So every request runs with the SDK's retries off and a deadline of
``timeout`` seconds, retries included; reads are retried (twice, within that deadline) on
408/409/429/5xx and dropped connections; :meth:`HostedAPI.create_job` is sent exactly once
(what happens after it fails is :func:`rftkit.jobs.hosted.job.launch_hosted`'s business).
While a request is out, ``progress`` (if given) hears about it every few seconds.

The client is injected and may be any of ``OpenAI()``, ``AzureOpenAI(azure_endpoint=...,
api_version=...)``, ``OpenAI(base_url="https://RES.openai.azure.com/openai/v1/")`` or a Foundry
project's ``get_openai_client()``; all expose the same resources.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import openai

from rftkit.jobs.hosted.errors import HostedJobError, explain, platform_name, timeout_error

Platform = Literal["openai", "azure"]
MAX_PAGES = 20
"""Listing stops after this many pages of 100 (2,000 jobs or files), so a huge account never
turns one launch into an unbounded crawl."""
DEFAULT_TIMEOUT = 120.0
"""Seconds one request may take, retries included (``rftkit jobs ... --timeout``)."""
RETRIED_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
READ_RETRIES = 2
"""Retries of a read after a retryable answer or a dropped connection (the SDK's own default)."""
Progress = Callable[[str], None]


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
    (the header values a request carried) masked; nothing here prints or logs a request.

    ``timeout`` bounds each request, retries included; ``progress`` receives a line every
    ``progress_every`` seconds (default: a quarter of the timeout, at most 5) while a request is
    waiting; ``agent_rft`` says the requests carry
    job tools or an endpoint grader (it words a refusal)."""

    def __init__(
        self,
        client: openai.OpenAI,
        platform: Platform,
        secrets: Iterable[str] = (),
        *,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Progress | None = None,
        progress_every: float | None = None,
        agent_rft: bool = False,
    ):
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.client = client
        self.platform = platform
        self.timeout = float(timeout)
        self.progress = progress
        self.progress_every = progress_every or max(0.25, min(5.0, self.timeout / 4))
        self.agent_rft = agent_rft
        self._secrets = tuple(secrets)
        self.sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"HostedAPI(platform={self.platform!r}, base_url={str(self.client.base_url)!r})"

    @property
    def name(self) -> str:
        return platform_name(self.platform)

    @contextmanager
    def _waiting(self, action: str, started: float) -> Iterator[None]:
        """Tell ``progress`` every few seconds that ``action`` is still waiting for an answer."""
        if self.progress is None:
            yield
            return
        done = threading.Event()

        def tick() -> None:
            while not done.wait(self.progress_every):
                waited = time.monotonic() - started
                shown = f"{waited:.0f}" if self.timeout >= 20 else f"{waited:.1f}"
                self.progress(
                    f"still waiting for {self.name} to {action}: {shown} s of "
                    f"{self.timeout:g} s (--timeout)"
                )

        ticker = threading.Thread(target=tick, name="rftkit-waiting", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()

    def _error(self, exc: openai.OpenAIError, action: str) -> HostedJobError:
        return explain(
            exc,
            platform=self.platform,
            action=action,
            secrets=self._secrets,
            agent_rft=self.agent_rft,
            timeout=self.timeout,
        )

    def _call(self, action: str, method: Callable[[Any], Any], retry: bool) -> Any:
        """``method(client)`` with no SDK retries, within the deadline; the raw response's JSON.
        With ``retry``, answers that ask for it (and dropped connections) are retried up to
        READ_RETRIES times while the deadline allows."""
        started = time.monotonic()
        deadline = started + self.timeout
        delay = 0.5
        retries = READ_RETRIES if retry else 0
        with self._waiting(action, started):
            for attempt in range(retries + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise timeout_error(self.platform, action, self.timeout)
                client = self.client.with_options(max_retries=0, timeout=remaining)
                try:
                    return method(client).http_response.json()
                except openai.APITimeoutError as exc:
                    raise self._error(exc, action) from None
                except (openai.APIConnectionError, openai.APIStatusError) as exc:
                    status = getattr(exc, "status_code", None)
                    again = status is None or status in RETRIED_STATUSES
                    last = attempt == retries or time.monotonic() + delay >= deadline
                    if not again or last:
                        raise self._error(exc, action) from None
                except openai.OpenAIError as exc:
                    raise self._error(exc, action) from None
                except ValueError as exc:  # a body that is not JSON
                    raise HostedJobError(
                        f"{action}: the platform answered with non-JSON ({exc})", kind="failed"
                    ) from None
                self.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _json(self, action: str, method: Callable[[Any], Any]) -> Any:
        """A read (or another request that may be repeated safely)."""
        return self._call(action, method, retry=True)

    def _pages(self, action: str, listing: Callable[..., Any], **kwargs: Any) -> list[dict]:
        found: list[dict] = []
        after = None
        for _ in range(MAX_PAGES):
            options = {"limit": 100, **({"after": after} if after else {}), **kwargs}
            page = self._json(action, lambda c, o=options: listing(c)(**o))
            data = page.get("data") or []
            found += data
            if not page.get("has_more") or not data:
                break
            after = data[-1]["id"]
        return found

    # -- jobs ----------------------------------------------------------------------------------
    @staticmethod
    def _jobs(client: openai.OpenAI) -> Any:
        return client.fine_tuning.jobs.with_raw_response

    def create_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``fine_tuning/jobs`` with ``body`` exactly as given, **once**: never retried, as
        a create that failed may still have made a paid job."""
        rest = {k: v for k, v in body.items() if k not in ("model", "training_file")}
        raw = self._call(
            "create the job",
            lambda c: self._jobs(c).create(
                model=body["model"], training_file=body["training_file"], extra_body=rest
            ),
            retry=False,
        )
        return normalise_job(raw)

    def retrieve_job(self, job_id: str) -> dict[str, Any]:
        raw = self._json(f"read job {job_id}", lambda c: self._jobs(c).retrieve(job_id))
        return normalise_job(raw)

    def list_jobs(self, metadata: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Jobs, newest first; with ``metadata``, only those whose metadata holds every pair (the
        platform filters, and the result is checked here too, as not every platform filters)."""
        options = {"metadata": dict(metadata)} if metadata else {}
        pages = self._pages("list jobs", lambda c: self._jobs(c).list, **options)
        jobs = [normalise_job(j) for j in pages]
        wanted = dict(metadata or {})
        return [j for j in jobs if wanted.items() <= (j.get("metadata") or {}).items()]

    def job_action(self, job_id: str, action: Literal["pause", "resume", "cancel"]) -> dict:
        """Pause, resume or cancel: repeating one changes nothing, so it is retried too."""
        raw = self._json(f"{action} job {job_id}", lambda c: getattr(self._jobs(c), action)(job_id))
        return normalise_job(raw)

    def events(self, job_id: str, after: str | None = None) -> dict[str, Any]:
        """One page of events (the platform lists newest first): ``{data, has_more}``."""
        options = {"after": after} if after else {}
        return self._json(
            f"read the events of {job_id}",
            lambda c: self._jobs(c).list_events(job_id, limit=100, **options),
        )

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        def listing(c: openai.OpenAI) -> Callable[..., Any]:
            return lambda **kw: c.fine_tuning.jobs.checkpoints.with_raw_response.list(job_id, **kw)

        return self._pages(f"list the checkpoints of {job_id}", listing)

    # -- graders and files ---------------------------------------------------------------------
    def validate_grader(self, grader: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``fine_tuning/alpha/graders/validate``; the normalised grader, or the error."""
        return self._json(
            "validate the grader",
            lambda c: c.fine_tuning.alpha.graders.with_raw_response.validate(
                grader={}, extra_body={"grader": grader}
            ),
        )

    def list_files(self) -> list[dict[str, Any]]:
        return self._pages(
            "list files", lambda c: c.files.with_raw_response.list, purpose="fine-tune"
        )

    def upload_file(self, filename: str, content: bytes) -> dict[str, Any]:
        """Upload once: a retried upload could leave a second copy (free, but untidy)."""
        return self._call(
            f"upload {filename}",
            lambda c: c.files.with_raw_response.create(
                file=(filename, content), purpose="fine-tune"
            ),
            retry=False,
        )

    def retrieve_file(self, file_id: str) -> dict[str, Any]:
        return self._json(
            f"read file {file_id}", lambda c: c.files.with_raw_response.retrieve(file_id)
        )

    def eval_runs(self, eval_id: str) -> list[dict[str, Any]]:
        """The runs of a job's eval (one per validation step), where the platform offers them."""

        def listing(c: openai.OpenAI) -> Callable[..., Any]:
            return lambda **kw: c.evals.runs.with_raw_response.list(eval_id, **kw)

        return self._pages(f"list the runs of eval {eval_id}", listing)
