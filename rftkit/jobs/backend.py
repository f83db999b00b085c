"""What every training backend is: one :class:`Backend` protocol and one :class:`Job` protocol.

A backend checks a task (``preflight`` → :class:`~rftkit.jobs.report.Report`), forecasts it
(``forecast`` → :class:`~rftkit.jobs.forecast.Forecast`), launches it (``launch`` → a
:class:`Job`) and opens a job launched earlier (``open``). A job reads and acts the same way on
every backend: ``status``, ``events()``, ``watch()``, ``wait()``, ``checkpoints()``, ``as_job()``,
``pause()``, ``resume()``, ``cancel()``. A backend that cannot do something says so with an error
naming what to do instead (TRL on Modal cannot pause; a local job cannot be opened from another
process).

The implementations, built by :func:`get_backend`:

======================  ===============================================================
``local``               :class:`LocalBackend`: the CPU engine (``rftkit.jobs.local.LocalJob``)
``openai``, ``azure``   :class:`HostedBackend`: the hosted API through an ``openai`` client
                        (``rftkit.jobs.hosted``); a client with another ``base_url`` reaches
                        any server that speaks it, such as the local fine-tuning API
                        (``rftkit api serve``)
``trl-modal``           :class:`rftkit.trl.backend.TRLModalBackend`: TRL's GRPOTrainer on Modal GPUs
                        (``rftkit.trl.backend.TRLModalJob``)
======================  ===============================================================

``rftkit jobs`` and :func:`rftkit.jobs.launch` drive every backend through these protocols only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rftkit.errors import RFTKitError

if TYPE_CHECKING:
    from rftkit.jobs.forecast import Forecast
    from rftkit.jobs.report import Report
    from rftkit.task import RFTTask

BACKENDS = ("local", "openai", "azure", "trl-modal")
Progress = Callable[[str], None]
"""Hears what a launch or a request is waiting for, one line at a time."""
OnEvent = Callable[[dict[str, Any]], None]


class BackendUnavailable(RuntimeError, RFTKitError):
    """The backend cannot be reached from here (no credentials, say); the message says what to
    do. ``rftkit jobs`` prints it and exits 2."""


@runtime_checkable
class Job(Protocol):
    """One training job, read and controlled the same way on every backend."""

    id: str

    @property
    def status(self) -> str: ...
    def as_job(self) -> dict[str, Any]: ...
    def events(self, after: str | None = None) -> list[dict[str, Any]]: ...
    def stream(self, start: int = 0, poll: float = ...) -> Iterator[dict[str, Any]]: ...
    def watch(self, on_event: OnEvent | None = None, poll: float | None = None) -> str: ...
    def wait(self, timeout: float | None = None) -> str: ...
    def checkpoints(self) -> list[dict[str, Any]]: ...
    def pause(self) -> Job: ...
    def resume(self) -> Job: ...
    def cancel(self) -> Job: ...


@runtime_checkable
class Backend(Protocol):
    """Where a task trains: its checks, its forecast, its launch and its jobs."""

    name: str

    def preflight(
        self, task: RFTTask, *, env: Mapping[str, str] | None = None, **options: Any
    ) -> Report: ...
    def forecast(self, task: RFTTask, *, baseline: Any = None, **options: Any) -> Forecast: ...
    def launch(
        self,
        task: RFTTask,
        *,
        env: Mapping[str, str] | None = None,
        on_progress: Progress | None = None,
        **options: Any,
    ) -> Job: ...
    def open(self, job_id: str) -> Job: ...


class Watching:
    """``watch`` for a job class that has ``stream`` and ``status`` (each backend's job)."""

    def watch(self, on_event: OnEvent | None = None, poll: float | None = None) -> str:
        """Hand every event to ``on_event`` as it arrives until the job stops running; the
        status it stopped with (``succeeded``, ``failed``, ``cancelled``, ``paused``...)."""
        events = self.stream() if poll is None else self.stream(poll=poll)  # type: ignore[attr-defined]
        for event in events:
            if on_event is not None:
                on_event(event)
        return self.status  # type: ignore[attr-defined]


def _measured_forecast(task: RFTTask, name: str, baseline: Any, **options: Any) -> Forecast:
    from rftkit.jobs.forecast import RolloutProfile, forecast

    if baseline is None:
        raise ValueError(
            f"a {name} forecast starts from measured rollouts: pass baseline= (a baseline run, "
            "or rftkit jobs forecast --baseline TRACES.jsonl)"
        )
    return forecast(task, RolloutProfile.from_baseline(baseline), name, **options)


class LocalBackend:
    """The local CPU engine: a GRPO run in a background thread of this process."""

    name = "local"

    def preflight(
        self, task: RFTTask, *, env: Mapping[str, str] | None = None, **options: Any
    ) -> Report:
        from rftkit.jobs.preflight import preflight

        return preflight(task, "local", env=env, **options)

    def forecast(self, task: RFTTask, *, baseline: Any = None, **options: Any) -> Forecast:
        return _measured_forecast(task, "local", baseline, **options)

    def launch(
        self,
        task: RFTTask,
        *,
        env: Mapping[str, str] | None = None,
        on_progress: Progress | None = None,
        progress: bool = False,
        **options: Any,
    ) -> Job:
        """``options``: ``grpo`` (GRPO overrides), ``out_dir``, ``warm_start`` (the task's
        reference solver, ``module:function``: a team's task, see ``rftkit.jobs.local``) and
        ``warm_start_config``. ``progress=True`` shows the engine's step bar; ``on_progress``
        hears the job's messages as they are emitted."""
        from rftkit.jobs.local import LocalJob

        names = ("grpo", "out_dir", "warm_start", "warm_start_config")
        known = {k: options.pop(k) for k in names if k in options}
        no_options("the local backend's launch", options)
        job = LocalJob(task, env=env, **known)
        if on_progress is not None:
            job.trainer.on_event = lambda event: on_progress(str(event.get("message", "")))
        return job.start(progress)

    def open(self, job_id: str) -> Job:
        raise ValueError(
            f"local jobs live inside the process that launched them ({job_id} cannot be opened "
            "from another); `rftkit jobs launch --backend local` follows its job until it ends"
        )


class HostedBackend:
    """OpenAI or Azure AI Foundry through an ``openai`` client (built from the environment
    when not given); any server speaking the same API is reached by the client's base URL."""

    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        timeout: float | None = None,
        progress: Progress | None = None,
    ):
        if name not in ("openai", "azure"):
            raise ValueError(f"hosted backends are openai and azure, not {name!r}")
        self.name = name
        self.client = client
        self.timeout = timeout
        self.progress = progress

    def _client(self) -> Any:
        if self.client is None:
            from rftkit.jobs.hosted.clients import client_for

            self.client = client_for(self.name)
        return self.client

    def _timeout(self) -> dict[str, float]:
        return {} if self.timeout is None else {"timeout": self.timeout}

    def preflight(
        self, task: RFTTask, *, env: Mapping[str, str] | None = None, **options: Any
    ) -> Report:
        from rftkit.jobs.preflight import preflight

        # The client the launch will use, so the platform validates the grader as the CLI's does.
        return preflight(
            task, self.name, env=env, client=self._client(), **(self._timeout() | options)
        )

    def forecast(self, task: RFTTask, *, baseline: Any = None, **options: Any) -> Forecast:
        return _measured_forecast(task, self.name, baseline, **options)

    def launch(
        self,
        task: RFTTask,
        *,
        env: Mapping[str, str] | None = None,
        on_progress: Progress | None = None,
        **options: Any,
    ) -> Job:
        """``options``: ``force`` (a new job even if this task launched one), ``training_type``
        (Azure), ``file_wait``, ``create_attempts``, ``timeout``."""
        from rftkit.jobs.hosted import launch_hosted

        return launch_hosted(
            self.name,  # type: ignore[arg-type]
            task,
            client=self._client(),
            env=env,
            progress=on_progress or self.progress,
            **(self._timeout() | options),
        )

    def open(self, job_id: str) -> Job:
        from rftkit.jobs.hosted import open_job

        return open_job(
            self.name,  # type: ignore[arg-type]
            job_id,
            client=self._client(),
            progress=self.progress,
            **self._timeout(),
        )


def no_options(what: str, options: Mapping[str, Any]) -> None:
    if options:
        raise ValueError(f"{what} takes no {', '.join(sorted(options))}")


PLUGINS = {"trl-modal": ("rftkit.trl.backend:TRLModalBackend", "rftkit.trl.options")}
"""Backends that live with their own engine: the backend class as ``module:class`` and a light
module of command-line options (``add_options(group)``, ``from_options(args)`` → the backend's
keyword arguments), each imported when asked. The engine implements this module's protocols, so
this module never imports it, the way ``rftkit.cli`` names its command groups."""


def backend_class(name: str) -> type:
    """The class of plugin backend ``name`` (:data:`PLUGINS`), imported now."""
    module, _, attribute = PLUGINS[name][0].partition(":")
    return getattr(importlib.import_module(module), attribute)


def backend_options(name: str) -> Any:
    """The command-line options module of plugin backend ``name`` (:data:`PLUGINS`)."""
    return importlib.import_module(PLUGINS[name][1])


def get_backend(name: str, **options: Any) -> Backend:
    """The backend called ``name``: ``local``; ``openai``/``azure`` with ``client``,
    ``timeout``, ``progress``; ``trl-modal`` with ``spec``."""
    if name == "local":
        no_options("the local backend", options)
        return LocalBackend()
    if name in ("openai", "azure"):
        return HostedBackend(name, **options)
    if name in PLUGINS:
        return backend_class(name)(**options)
    raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
