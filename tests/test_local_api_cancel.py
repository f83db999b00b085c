"""The local fine-tuning API's cancel and status events, and ``response_format`` end to end: a
task with a response format is launched through the hosted backend onto the local API (real
``openai`` client, real training thread), the format is echoed, and a cancel sent while rollouts
run stops the job at its next safe point and answers ``cancelled`` within seconds."""

import time

import openai
import pytest
from local_api_fixtures import FAST_GRPO, recorded_course_task

from rftkit.api import serve_api
from rftkit.jobs import launch

ANSWER_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": False,
        },
    },
}


STATUS_MESSAGES = ("Files validated", "Job ", "Cancel requested", "Pause")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("cancel")
    with (
        recorded_course_task(root / "task") as course,
        serve_api(root / "api", grpo=FAST_GRPO) as api,
    ):
        yield course, openai.OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)


def _events(client, job_id):
    page = client.fine_tuning.jobs.with_raw_response.list_events(job_id, limit=100)
    return page.http_response.json()["data"][::-1]


def _wait_for(client, job_id, message, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(message in e["message"] for e in _events(client, job_id)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no event {message!r} within {timeout} s")


def test_cancel_during_rollouts_answers_cancelled_within_seconds_with_every_change_an_event(
    served,
):
    course, client = served
    task = course.task.model_copy(update={"response_format": ANSWER_FORMAT})
    job = launch("openai", task, client=client, env=course.env)
    echoed = job.as_job()["method"]["reinforcement"]
    assert echoed["response_format"] == ANSWER_FORMAT
    assert echoed["max_episode_steps"] == task.max_episode_steps
    _wait_for(client, job.id, "Job started")
    time.sleep(0.5)  # the triage's rollouts are under way
    started = time.monotonic()
    answer = client.fine_tuning.jobs.with_raw_response.cancel(job.id).http_response.json()
    took = time.monotonic() - started
    assert answer["status"] == "cancelled" and took < 10, (answer["status"], took)
    assert answer["finished_at"] is not None and answer["fine_tuned_model"] is None
    events = _events(client, job.id)
    messages = [e["message"] for e in events]
    changes = [m for m in messages if m.startswith(STATUS_MESSAGES)]
    assert changes == [
        "Files validated; the job is queued",
        "Job started",
        "Cancel requested: the job stops at the next safe point",
        "Job cancelled after 0 step(s) (stopped during the rollouts; they were dropped)",
    ], messages
    assert messages[-1] == changes[-1]
    assert any("response_format is recorded" in m for m in messages)
    assert not [e for e in events if e["type"] == "metrics"], "no step ran after the cancel"
    time.sleep(1.0)
    assert len(_events(client, job.id)) == len(events), "nothing happens after the cancel"
    with pytest.raises(openai.BadRequestError, match="already completed: it is cancelled"):
        client.fine_tuning.jobs.cancel(job.id)


def test_a_bad_response_format_is_a_400_naming_the_field(served, tmp_path):
    course, client = served
    train = client.files.create(file=course.task.path("train").open("rb"), purpose="fine-tune")
    valid = client.files.create(
        file=course.task.path("validation").open("rb"), purpose="fine-tune"
    )
    method = course.task.reinforcement_method(course.env)
    method["reinforcement"]["response_format"] = {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "not-a-type"}}}  # fmt: skip
    with pytest.raises(openai.BadRequestError) as error:
        client.fine_tuning.jobs.create(
            model=course.task.model, training_file=train.id, validation_file=valid.id,
            extra_body={"method": method},
        )  # fmt: skip
    body = error.value.body
    assert body["param"] == "method.reinforcement.response_format"
    assert "not valid JSON Schema" in body["message"]
