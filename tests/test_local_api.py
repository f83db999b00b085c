"""The local fine-tuning API end to end through the real ``openai`` client: upload, a job that
trains for real (events, checkpoints, pause and resume) to ``succeeded``, and its fine-tuned
model evaluated by id with calls that reach the task's tool service; no secret leaks."""

import json
import logging
import time

import httpx
import openai
import pytest
from local_api_fixtures import logged_api, recorded_course_task

from rftkit.local.checkpoint import BASE_MODEL
from rftkit.rollouts import run_rollouts_sync
from rftkit.rollouts.openai_policy import OpenAICompatiblePolicy


def raw(client: openai.OpenAI, job_id: str) -> dict:
    """The job as JSON (the SDK types ``status`` without pausing/paused)."""
    return client.fine_tuning.jobs.with_raw_response.retrieve(job_id).http_response.json()


def wait_for(client, job_id, statuses, timeout=300.0):
    deadline = time.monotonic() + timeout
    while (job := raw(client, job_id))["status"] not in statuses:
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.5)
    return job


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One job, launched paused-then-resumed, trained to the end; everything the tests read."""
    root = tmp_path_factory.mktemp("local-api")
    handler = _Capture()
    logging.getLogger().addHandler(handler)
    try:
        with recorded_course_task(root / "task") as course, logged_api(root / "api") as api:
            client = openai.OpenAI(base_url=api.base_url, api_key=api.api_key)
            task = course.task
            train = client.files.create(file=task.path("train").open("rb"), purpose="fine-tune")
            valid = client.files.create(
                file=task.path("validation").open("rb"), purpose="fine-tune"
            )
            created = client.fine_tuning.jobs.create(
                model=task.model,
                training_file=train.id,
                validation_file=valid.id,
                seed=0,
                suffix="e2e",
                metadata={"experiment": "e2e"},
                extra_body={"method": task.reinforcement_method(course.env)},
            )
            client.fine_tuning.jobs.pause(created.id)
            paused = wait_for(client, created.id, ("paused", "failed", "succeeded"))
            client.fine_tuning.jobs.resume(created.id)
            job = wait_for(client, created.id, ("succeeded", "failed", "cancelled"))
            events = list(client.fine_tuning.jobs.list_events(created.id, limit=3))
            checkpoints = client.fine_tuning.jobs.checkpoints.list(created.id).data
            listed = client.fine_tuning.jobs.list(metadata={"experiment": "e2e"}).data
            unlisted = client.fine_tuning.jobs.list(metadata={"experiment": "other"}).data
            models = [m.id for m in client.models.list()]
            policy = OpenAICompatiblePolicy(
                openai.AsyncOpenAI(base_url=api.base_url, api_key=api.api_key),
                job["fine_tuned_model"] or "no model",
            )
            traces = run_rollouts_sync(
                task.items("validation")[:4],
                policy,
                tools=task.job_tools(course.env),
                grader=task.grader,
                max_episode_steps=task.max_episode_steps,
                progress=False,
            )
            reached = {
                t.trace_id: httpx.get(
                    f"{task.tools[0].server_url.removesuffix('/call')}/traces/{t.trace_id}",
                    headers={"Authorization": f"Bearer {course.token}"},
                ).json()
                for t in traces
            }
            files_on_disk = b"".join(
                p.read_bytes() for p in (root / "api").rglob("*") if p.is_file()
            )
            yield {
                "created": created,
                "paused": paused,
                "job": job,
                "events": events,
                "checkpoints": checkpoints,
                "listed": listed,
                "unlisted": unlisted,
                "models": models,
                "traces": traces,
                "reached": reached,
                "token": course.token,
                "disk": files_on_disk,
                "client": client,
                "logs": handler,
            }
    finally:
        logging.getLogger().removeHandler(handler)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.records)


def test_a_job_goes_from_upload_to_succeeded_with_events_and_checkpoints(trained):
    created, job = trained["created"], trained["job"]
    assert created.status == "running" and created.id.startswith("ftjob-local-")
    assert trained["paused"]["status"] == "paused"
    assert job["status"] == "succeeded", job["error"]
    assert job["fine_tuned_model"].startswith(f"ft:{BASE_MODEL}:local:e2e:")
    assert job["metadata"] == {"experiment": "e2e"}
    tools = job["method"]["reinforcement"]["tools"]
    assert {t["name"] for t in tools} == {"search", "list_files", "read_file", "calculator"}
    assert all(t["headers"] == {"Authorization": "**********"} for t in tools)
    # events: newest first, real metrics from the trainer; auto-pagination walks them all
    events = trained["events"]
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == [2, 1, 0]  # step 0: the base model, validated
    assert events[-1].created_at <= events[0].created_at
    assert any(e.message.startswith("Learnability triage") for e in events)
    assert all(0 <= e.data["full_valid_mean_reward"] <= 1 for e in metrics)
    # checkpoints: one per validation step, each a model the server lists and serves
    checkpoints = trained["checkpoints"]
    assert [c.step_number for c in checkpoints] == [2, 1]
    assert all(c.fine_tuning_job_id == created.id for c in checkpoints)
    names = [c.fine_tuned_model_checkpoint for c in checkpoints]
    assert names == [f"{job['fine_tuned_model']}:ckpt-step-{n}" for n in (2, 1)]
    assert set(names) | {BASE_MODEL, job["fine_tuned_model"]} <= set(trained["models"])
    assert [j.id for j in trained["listed"]] == [created.id] and trained["unlisted"] == []


def test_the_fine_tuned_model_answers_by_id_with_calls_that_reach_the_tool_service(trained):
    traces = trained["traces"]
    job = trained["job"]
    models = {
        s.span_data.model for t in traces for s in t.spans if s.span_data.type == "generation"
    }
    assert models == {job["fine_tuned_model"]}  # the server names the model that answered
    assert all(t.status in ("completed", "max_steps") for t in traces), [t.error for t in traces]
    called = [t for t in traces if t.tool_calls]
    assert called, "the fine-tuned model made no tool call"
    for trace in called:  # the tool service logged these rollouts' calls under their trace ids
        log = trained["reached"][trace.trace_id]
        # calls the engine answered itself (bad JSON arguments, an unknown tool) never reach it
        sent = [s for s in trace.function_spans if s.span_data.attempts > 0]
        assert len(log["calls"]) == len(sent), [s.span_data for s in trace.function_spans]


def test_no_secret_reaches_logs_responses_or_disk(trained):
    token, logs = trained["token"], trained["logs"].text()
    assert "POST /v1/fine_tuning/jobs" in logs  # the access log was captured
    assert token not in logs
    assert token.encode() not in trained["disk"]
    client = trained["client"]
    job_id = trained["job"]["id"]
    for body in (
        trained["job"],
        client.fine_tuning.jobs.with_raw_response.list_events(job_id).http_response.json(),
        client.fine_tuning.jobs.with_raw_response.list().http_response.json(),
    ):
        assert token not in json.dumps(body)
