"""The jobs interface's ``local`` backend on a task: launch, events, pause/resume, checkpoints,
cancel, a team's own task and service, and a run that cannot learn failing with its reason."""

import json
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI, Request

from rftkit.data import build_dataset, write_jsonl
from rftkit.jobs import LocalJob, launch
from rftkit.local.checkpoint import BASE_MODEL
from rftkit.local.model import ModelConfig, TinyLM
from rftkit.protocol import FunctionCall, FunctionCallOutput
from rftkit.serving import serve_in_background
from rftkit.task import RFTTask, TaskTool

TINY_RUN = {"steps": 2, "tasks_per_step": 2, "group_size": 2, "max_episode_steps": 2,
            "triage_repeats": 2, "eval_interval": 1}  # fmt: skip
SIMILARITY = {
    "type": "text_similarity",
    "name": "similarity",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "evaluation_metric": "fuzzy_match",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, scripted_world):
    directory = tmp_path_factory.mktemp("ckpt")
    tokenizer, _ = scripted_world
    torch.manual_seed(0)
    model = TinyLM(ModelConfig(len(tokenizer), block_size=256, n_layer=1, n_head=2, n_embd=16))
    path = directory / "tiny.pt"
    model.save(path, tokenizer=tokenizer.state_dict())
    return path


@pytest.fixture
def task(tiny_course_task, checkpoint):
    return tiny_course_task.task.model_copy(
        update={"model": str(checkpoint), "grader": SIMILARITY}
    )


def test_a_paused_job_resumes_and_finishes_with_events_and_checkpoints(
    task, tiny_course_task, tmp_path
):
    job = LocalJob(task, env=tiny_course_task.env, grpo=TINY_RUN, out_dir=tmp_path)
    assert job.status == "queued" and job.id.startswith("ftjob-local-")
    assert job.metadata == {"rftkit_task_hash": task.content_hash()}
    job.start().pause()
    assert job.wait(timeout=120) == "paused" and job.trainer.step == 0
    job.resume()
    assert job.wait(timeout=120) == "succeeded", job.error
    assert job.as_job()["fine_tuned_model"].startswith(f"ft:{BASE_MODEL}:local:")
    streamed = list(job.stream())
    assert streamed == job.events()
    messages = [e["message"] for e in streamed]
    assert messages[1] == "Files validated; the job is queued"
    pause = "Pause requested: the job pauses after the current step"
    assert messages[2:4] == ["Job started", pause]
    assert messages[4].startswith("Learnability triage")
    assert messages[5].startswith("Step 0/2 (the starting model, before training)")
    assert messages[6:8] == ["Job paused after step 0", "Job resumed"]
    assert sum(m.startswith("Step 0/") for m in messages) == 1  # not validated again on resume
    assert messages[-1] == "The job has successfully completed"
    metrics = [e for e in streamed if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == [0, 1, 2]
    assert job.events(after=metrics[1]["id"]) == [metrics[2], *streamed[-2:]]
    assert messages[-2].startswith("Tool requests that reached the task's tool URLs: ")
    assert [c["step_number"] for c in job.checkpoints()] == [1, 2]
    assert all((tmp_path / "checkpoints" / f"step-{n}.pt").exists() for n in (1, 2))


def test_cancel_before_start_and_bad_specs(task, tiny_course_task, tmp_path):
    job = LocalJob(task, env=tiny_course_task.env, grpo=TINY_RUN, out_dir=tmp_path)
    assert job.cancel().status == "cancelled"
    with pytest.raises(RuntimeError, match="cancelled"):
        job.start()
    with pytest.raises(ValueError, match="unknown learning_rate"):
        LocalJob(task, env=tiny_course_task.env, grpo={"learning_rate": 1.0})
    with pytest.raises(ValueError, match="known backends: local, openai, azure"):
        launch("trl", task)


def test_the_hosted_hyperparameters_map_to_grpo_settings(tiny_course_task, tmp_path):
    task = tiny_course_task.task.model_copy(
        update={
            "hyperparameters": {"n_epochs": 3, "batch_size": 2, "compute_multiplier": 0.5,
                                "eval_samples": 2, "learning_rate_multiplier": 2,
                                "reasoning_effort": "high"},
        }
    )  # fmt: skip
    job = LocalJob(task, env=tiny_course_task.env, out_dir=tmp_path)
    config = job.config
    assert (config.steps, config.tasks_per_step, config.group_size) == (5, 2, 3)  # 3 x 3 lines / 2
    assert (config.valid_repeats, config.lr, config.max_episode_steps) == (2, 6e-4, 12)
    assert any("reasoning_effort=high" in e["message"] for e in job.events())
    assert not any("not a course-world task" in e["message"] for e in job.events())


def test_a_run_in_which_nothing_is_learnable_fails_with_the_reason(
    task, tiny_course_task, tmp_path
):
    always_one = {"type": "string_check", "name": "always", "input": "x", "reference": "x",
                  "operation": "eq"}  # fmt: skip
    flat = task.model_copy(update={"grader": always_one})
    job = launch("local", flat, env=tiny_course_task.env, grpo=TINY_RUN, out_dir=tmp_path,
                 skip_preflight=True)  # the red team refuses this grader: the run is the test
    assert job.wait(timeout=120) == "failed"
    assert "every task's rollouts got equal rewards" in job.error
    assert "always_1 3" in job.events()[0]["message"] or "always_1 3" in job.error
    assert job.as_job()["fine_tuned_model"] is None


def orders_service(received: list[FunctionCall]) -> FastAPI:
    """A team's own tool service in the wire format (not the course's): one ``search`` tool over
    an order table, answering whatever the model asks."""
    app = FastAPI()
    orders = {"A-100": "shipped", "B-200": "delayed"}

    @app.post("/call")
    async def call(request: Request) -> dict:
        assert request.headers["authorization"] == "Bearer orders-token"
        function_call = FunctionCall.model_validate(await request.json())
        received.append(function_call)
        query = json.loads(function_call.arguments).get("query", "")
        found = [f"{k}: {v}" for k, v in orders.items() if k in str(query)] or ["no order found"]
        return FunctionCallOutput.answering(function_call, "\n".join(found)).model_dump()

    return app


def _orders_task(folder, url: str, tool: str, **fields) -> RFTTask:
    """A team's order-status task: two lines, one tool called ``tool`` at the orders service."""
    lines = [{"question": f"What is the status of order {o}?", "answer": s}
             for o, s in (("A-100", "shipped"), ("B-200", "delayed"))]  # fmt: skip
    write_jsonl(build_dataset(lines), folder / "train.jsonl")
    write_jsonl(build_dataset(lines[:1]), folder / "valid.jsonl")
    return RFTTask.in_folder(
        folder,
        name="orders",
        training_file="train.jsonl",
        validation_file="valid.jsonl",
        grader=SIMILARITY,
        tools=[TaskTool(name=tool, server_url=f"{url}/call",
                        headers={"Authorization": "Bearer ${ORDERS_TOKEN}"})],
        max_episode_steps=3,
        **fields,
    )  # fmt: skip


def _one_step(task: RFTTask, out: Path) -> LocalJob:
    return launch("local", task, grpo={"steps": 1, "group_size": 4, "triage_repeats": 4},
                  out_dir=out, skip_preflight=True)  # fmt: skip


def test_a_teams_own_task_trains_locally_with_real_calls_to_its_service(tmp_path, monkeypatch):
    received: list[FunctionCall] = []
    monkeypatch.setenv("ORDERS_TOKEN", "orders-token")
    with serve_in_background(orders_service(received)) as url:
        task = _orders_task(tmp_path, url, "search", model="o4-mini-2025-04-16")
        task.save(tmp_path / "task.json")
        task = RFTTask.load(tmp_path / "task.json")
        job = _one_step(task, tmp_path / "job")
        status = job.wait(timeout=300)
    messages = [e["message"] for e in job.events()]
    assert "not a course-world task" in messages[0]
    assert "trains rftkit-tinylm-base in its place" in messages[1]
    assert any(f"search -> {url}/call" in m for m in messages)
    assert received, "no tool call reached the team's service"
    assert len({c.trace_id for c in received}) > 1  # one trace_id per rollout
    assert all(c.item.get("reference_answer") in ("shipped", "delayed") for c in received)
    closing = next(m for m in reversed(messages) if m.startswith("Tool requests that reached"))
    assert closing.split("URLs: ")[1].split(" ")[0] == str(len(received))  # the service's count
    # the base model cannot learn this task: either it ran, or it failed saying why
    assert status == "succeeded" or "nothing to learn" in job.error
    assert "orders-token" not in json.dumps(job.events()) + repr(task) + repr(job.as_job())


def test_a_task_whose_tools_the_model_does_not_know_says_no_request_is_sent(
    tmp_path, monkeypatch
):
    """The job's own words against the service's own log: tools the base model never learnt
    get no request, and the first event says so (it used to claim rollouts went through them)."""
    received: list[FunctionCall] = []
    monkeypatch.setenv("ORDERS_TOKEN", "orders-token")
    with serve_in_background(orders_service(received)) as url:
        job = _one_step(_orders_task(tmp_path, url, "lookup_order"), tmp_path / "job")
        job.wait(timeout=300)
    first = job.events()[0]["message"]
    assert "calls none of this task's tools (lookup_order)" in first
    assert "send no request to the task's tool URLs" in first
    assert received == [], "the note says no request is sent; the service's log must agree"
    assert "Tool requests that reached the task's tool URLs: 0" in job.events()[-2]["message"]
