"""The hosted jobs backend runs unchanged against the local fine-tuning API: only the client's
base URL and key differ. A task launched with ``launch("openai", ...)`` trains to ``succeeded``
with real events and checkpoints; launching it again finds that job (by the task hash in its
metadata); the Azure flavour of the request (``trainingType``) is accepted and cancels cleanly."""

import openai
import pytest
from local_api_fixtures import FAST_GRPO, recorded_course_task

from rftkit.api import serve_api
from rftkit.jobs import HostedJob, launch


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosted")
    with (
        recorded_course_task(root / "task") as course,
        serve_api(root / "api", grpo=FAST_GRPO) as api,
    ):
        client = openai.OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
        yield course, client


def test_the_hosted_backend_trains_a_task_on_the_local_api(hosted):
    course, client = hosted
    job = launch("openai", course.task, client=client, env=course.env)
    assert isinstance(job, HostedJob) and not job.reused
    assert job.wait(timeout=300, poll=1) == "succeeded", job.as_job()["error"]
    events = job.events()
    steps = [e["data"]["step"] for e in events if e["type"] == "metrics"]
    assert steps == [0, 1, 2]  # step 0: the base model, validated before training
    checkpoints = job.checkpoints()
    assert [c["step_number"] for c in checkpoints] == [2, 1]
    assert job.refresh()["fine_tuned_model"].startswith("ft:rftkit-tinylm-base:local:")
    assert job.metadata["rftkit_task_hash"] == course.task.content_hash()
    assert course.token not in str(job.as_job())
    # the same task again: the job already launched is found, nothing new is uploaded
    files = client.files.list().data
    again = launch("openai", course.task, client=client, env=course.env)
    assert again.reused and again.id == job.id
    assert client.files.list().data == files


def test_the_azure_request_is_accepted_and_cancels(hosted):
    course, client = hosted
    job = launch(
        "azure", course.task, client=client, env=course.env, force=True, training_type="Standard"
    )
    job.cancel()
    assert job.wait(timeout=300, poll=1) == "cancelled"
    assert job.as_job()["fine_tuned_model"] is None
