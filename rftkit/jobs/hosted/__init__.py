"""Hosted jobs on Azure AI Foundry and OpenAI: one code path, the client injected.

Example::

    from openai import OpenAI
    job = launch("openai", task, client=OpenAI())          # or "azure" with an Azure client
    job.status, job.events()[-1]["message"], job.checkpoints()
"""

from rftkit.jobs.hosted.api import HostedAPI, normalise_job
from rftkit.jobs.hosted.errors import HostedJobError
from rftkit.jobs.hosted.job import HostedJob, launch_hosted, open_job

__all__ = ["HostedAPI", "HostedJob", "HostedJobError", "launch_hosted", "normalise_job", "open_job"]
