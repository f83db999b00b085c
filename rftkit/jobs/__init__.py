"""Training jobs behind one small interface: launch, status, events, checkpoints, cancel.

Backends: ``local`` (the CPU engine in ``rftkit.local``, the embedded default). Hosted backends
(OpenAI/Azure RFT, open-weights trainers) implement the same methods when they land.

Example::

    job = launch("local", hyperparameters={"steps": 8})
    job.wait()
    job.status, job.events()[-1]["message"], job.checkpoints()
"""

from rftkit.jobs.local import JOB_STATUSES, LocalJob, launch

__all__ = ["JOB_STATUSES", "LocalJob", "launch"]
