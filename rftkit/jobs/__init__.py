"""Training jobs behind one small interface: launch a task, then status, events, checkpoints,
pause, resume, cancel.

Every backend takes the same :class:`~rftkit.task.RFTTask`. ``local`` is the CPU engine in
``rftkit.local`` (the embedded default); ``openai`` and ``azure`` are the hosted platforms, with
the ``openai`` client injected (``rftkit.jobs.hosted``); ``trl-modal`` is TRL's GRPOTrainer on
Modal GPUs (``rftkit.trl.backend``).

Example::

    with serve_course_task() as course:
        job = launch("local", course.task, env=course.env, grpo={"steps": 8})
        job.wait()
        job.status, job.events()[-1]["message"], job.checkpoints()

    job = launch("azure", task, client=OpenAI(base_url=".../openai/v1/"))   # idempotent
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rftkit._util.lazy import lazy_exports

if TYPE_CHECKING:
    from rftkit.task import RFTTask

BACKENDS = ("local", "openai", "azure", "trl-modal")

# The local backend brings torch and the hosted ones the openai SDK: each is imported when used.
_EXPORTS = {
    "JOB_STATUSES": "rftkit.jobs.local",
    "LocalJob": "rftkit.jobs.local",
    "HostedJob": "rftkit.jobs.hosted",
    "HostedJobError": "rftkit.jobs.hosted",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["BACKENDS", "JOB_STATUSES", "HostedJob", "HostedJobError", "LocalJob", "launch"]


def launch(backend: str, task: RFTTask, *, progress: Any = False, **options: Any) -> Any:
    """Create and start a job for ``task`` on ``backend``.

    ``local`` takes ``env``, ``grpo``, ``out_dir``; ``openai``/``azure`` take ``client``, ``env``,
    ``force``, ``timeout`` (seconds per request) and (Azure) ``training_type``, and return the job
    already launched from the same task unless ``force=True``. ``progress`` is a bar (``True``)
    locally and, for a hosted backend, a callable that hears what is being waited for.
    """
    if backend == "local":
        from rftkit.jobs.local import LocalJob

        return LocalJob(task, **options).start(progress)
    if backend in ("openai", "azure"):
        from rftkit.jobs.hosted import launch_hosted

        return launch_hosted(
            backend, task, progress=progress if callable(progress) else None, **options
        )
    if backend == "trl-modal":  # TRL's GRPOTrainer on Modal GPUs (rftkit.trl.backend)
        from rftkit.trl.backend import launch_trl_modal

        return launch_trl_modal(task, progress=progress, **options)
    raise ValueError(f"unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}")
