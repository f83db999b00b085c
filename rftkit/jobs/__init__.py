"""Training jobs behind one small interface: launch a task, then status, events, checkpoints,
pause, resume, cancel.

Every backend takes the same :class:`~rftkit.task.RFTTask`. ``local`` is the CPU engine in
``rftkit.local`` (the embedded default).

Example::

    with serve_course_task() as course:
        job = launch("local", course.task, env=course.env, grpo={"steps": 8})
        job.wait()
        job.status, job.events()[-1]["message"], job.checkpoints()
"""

from __future__ import annotations

from typing import Any

from rftkit.jobs.local import JOB_STATUSES, LocalJob
from rftkit.task import RFTTask

BACKENDS = ("local", "trl-modal")

__all__ = ["BACKENDS", "JOB_STATUSES", "LocalJob", "launch"]


def launch(backend: str, task: RFTTask, *, progress: bool = False, **options: Any) -> Any:
    """Create and start a job for ``task`` on ``backend``."""
    if backend == "trl-modal":  # TRL's GRPOTrainer on Modal GPUs (rftkit.trl.backend)
        from rftkit.trl.backend import launch_trl_modal

        return launch_trl_modal(task, progress=progress, **options)
    if backend != "local":
        raise ValueError(
            f"backend {backend!r} is not available here; known backends: {', '.join(BACKENDS)}"
        )
    return LocalJob(task, **options).start(progress)
