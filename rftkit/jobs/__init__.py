"""Training jobs behind one interface: check a task, forecast it, launch it, then status,
events, watch, checkpoints, pause, resume, cancel.

Every backend takes the same :class:`~rftkit.task.RFTTask` and is a
:class:`~rftkit.jobs.backend.Backend` (``rftkit.jobs.backend``): ``preflight`` returns a
:class:`~rftkit.jobs.report.Report`, ``forecast`` a :class:`~rftkit.jobs.forecast.Forecast`,
``launch`` a :class:`~rftkit.jobs.backend.Job`. ``local`` is the CPU engine in ``rftkit.local``
(the embedded default); ``openai`` and ``azure`` are the hosted platforms, with the ``openai``
client injected (``rftkit.jobs.hosted``; another ``base_url`` reaches any server speaking the
API, the local fine-tuning API included); ``trl-modal`` is TRL's GRPOTrainer on Modal GPUs
(``rftkit.trl.backend``).

:func:`launch` runs the backend's preflight first, as ``rftkit jobs launch`` does, and refuses
a task with errors (:class:`~rftkit.jobs.report.PreflightFailed`) unless ``skip_preflight=True``.

Example::

    with serve_course_task() as course:
        job = launch("local", course.task, env=course.env, grpo={"steps": 8})
        job.wait()
        job.status, job.events()[-1]["message"], job.checkpoints()

    job = launch("azure", task, client=OpenAI(base_url=".../openai/v1/"))   # idempotent
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rftkit._util.lazy import lazy_exports
from rftkit.jobs.backend import BACKENDS, Backend, Job, Progress, get_backend

if TYPE_CHECKING:
    from rftkit.task import RFTTask

# The local backend brings torch and the hosted ones the openai SDK: each is imported when used.
_EXPORTS = {
    "JOB_STATUSES": "rftkit.jobs.local",
    "LocalJob": "rftkit.jobs.local",
    "HostedJob": "rftkit.jobs.hosted",
    "HostedJobError": "rftkit.jobs.hosted",
    "Report": "rftkit.jobs.report",
    "PreflightFailed": "rftkit.jobs.report",
    "Forecast": "rftkit.jobs.forecast",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = [
    "BACKENDS",
    "JOB_STATUSES",
    "Backend",
    "Forecast",
    "HostedJob",
    "HostedJobError",
    "Job",
    "LocalJob",
    "PreflightFailed",
    "Report",
    "get_backend",
    "launch",
]

_BACKEND_OPTIONS = {
    "openai": ("client", "timeout"),
    "azure": ("client", "timeout"),
    "trl-modal": ("spec",),
}
"""The options of ``launch`` that build the backend rather than its job."""


def _printer(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def launch(
    backend: str | Backend,
    task: RFTTask,
    *,
    env: Mapping[str, str] | None = None,
    skip_preflight: bool = False,
    preflight: Mapping[str, Any] | None = None,
    on_progress: Progress | None = None,
    progress: bool | Progress = False,
    **options: Any,
) -> Job:
    """Check ``task`` as ``rftkit jobs launch`` does, then create and start its job.

    The backend's preflight runs first (the CLI's checks; ``preflight`` passes options to it,
    e.g. ``{"baseline": run, "budget_usd": 500, "readiness_rollouts": 0}``); any error raises
    :class:`~rftkit.jobs.report.PreflightFailed` holding the report, and nothing is launched.
    ``skip_preflight=True`` launches without it (the CLI's ``--force``, or a caller that has just
    run it). ``backend`` is a name (``local``, ``openai``, ``azure``, ``trl-modal``) or a
    :class:`~rftkit.jobs.backend.Backend`.

    Options by backend: ``local`` takes ``grpo``, ``out_dir`` and ``warm_start`` (a team's
    reference solver, ``module:function``: see ``rftkit.jobs.local``); ``openai``/``azure`` take
    ``client``, ``timeout`` (seconds per request), ``force`` (a new job although this task
    launched one: otherwise that job is returned) and (Azure) ``training_type``; ``trl-modal``
    takes ``spec`` (a ``TRLJobSpec``). ``on_progress`` hears what the launch is doing and waiting
    for, a line at a time. ``progress`` is the older spelling, kept for one release: a callable is
    ``on_progress``; ``True`` shows the local engine's step bar, or prints the lines on stderr.
    """
    if isinstance(backend, str):
        names = _BACKEND_OPTIONS.get(backend, ())
        made = {k: options.pop(k) for k in names if k in options}
        chosen = get_backend(backend, **made)
    else:
        chosen = backend
    if callable(progress):
        on_progress, progress = on_progress or progress, False
    if not skip_preflight:
        from rftkit.jobs.report import PreflightFailed

        report = chosen.preflight(task, env=env, **dict(preflight or {}))
        if not report.ok:
            raise PreflightFailed(report)
    if chosen.name == "local":
        options["progress"] = bool(progress)
    elif progress is True:
        on_progress = on_progress or _printer
    return chosen.launch(task, env=env, on_progress=on_progress, **options)
