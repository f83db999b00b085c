"""Preemption on the CPU: a job killed mid-run resumes from its latest checkpoint.

The first run is ``rftkit.trl.run.run_job`` in a child process that kills itself (SIGKILL, as a
preempted container dies) once step 3's events are written, before its checkpoint; the last one
on disk is ``checkpoint-2``. The restart is the real entry point,
``python -m rftkit.trl.run FOLDER``, as Modal runs the same input again. A tiny model saved to
disk stands in for the hub model; tools and grader are the course's real ones on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_trl_wiring import SIZE

from rftkit.course.task import write_course_task
from rftkit.course.worlds import GRPO_SEEDS, VALID_SEEDS, build_world, world_seeds
from rftkit.serving import serve_in_background
from rftkit.trl.jobspec import TRLJobSpec
from rftkit.trl.metrics import event_step
from rftkit.trl.run import read_status
from rftkit.trl.tiny import tiny_model_that_opens_with_a_call
from tools_service.app import TOKEN_ENV, create_app

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-for-loopback-only"
KILL_AFTER_STEP_3 = textwrap.dedent(
    """
    import os, signal, sys
    from transformers import TrainerCallback
    from rftkit.trl import trainer
    from rftkit.trl.run import run_job

    class Preempt(TrainerCallback):  # runs after the metrics callback has written step 3
        def on_log(self, args, state, control, **kwargs):
            if state.global_step == 3:
                os.kill(os.getpid(), signal.SIGKILL)

    built = trainer.TaskGRPOTrainer.__init__
    def with_preemption(self, *args, **kwargs):
        built(self, *args, **kwargs)
        self.add_callback(Preempt())
    trainer.TaskGRPOTrainer.__init__ = with_preemption
    run_job(sys.argv[1])
    """
)


class TraceRecorder:
    """ASGI wrapper: the ``trace_id`` of every tool call reaching the real service, in order."""

    def __init__(self, app):
        self.app, self.trace_ids = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        message = await receive()
        body = message.get("body", b"")
        self.trace_ids.append(json.loads(body)["trace_id"])

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


@pytest.fixture(scope="module")
def tool_service(tmp_path_factory):
    """The course's tool service on loopback, recording each call's trace id."""
    root = tmp_path_factory.mktemp("trl-tools")
    seeds = world_seeds(GRPO_SEEDS, SIZE.train_worlds) + world_seeds(VALID_SEEDS, SIZE.valid_worlds)
    corpora = {seed: build_world(seed, root / "worlds").corpus() for seed in seeds}
    recorder = TraceRecorder(create_app(corpora, token=TOKEN))
    with serve_in_background(recorder) as url:
        yield url, recorder


@pytest.fixture(scope="module")
def job_folder(tmp_path_factory, tool_service):
    """A job folder as the Modal app lays it out, with the tool service running."""
    root = tmp_path_factory.mktemp("trl-resume")
    url, _ = tool_service
    folder = root / "ftjob-trl-resume"
    task = write_course_task(folder / "task", url, SIZE)
    task.hyperparameters = {"n_epochs": 3, "batch_size": 2, "compute_multiplier": 0.25}
    task.validation_file = None
    task.save(folder / "task" / "task.json")
    model, tokenizer = tiny_model_that_opens_with_a_call(task, {TOKEN_ENV: TOKEN})
    model.save_pretrained(root / "tiny")
    tokenizer.save_pretrained(root / "tiny")
    spec = TRLJobSpec(
        model=str(root / "tiny"),
        overrides={
            "use_vllm": False,
            "use_cpu": True,
            "bf16": False,
            "max_steps": 3,
            "save_steps": 2,
            "max_completion_length": 96,
            "dataloader_num_workers": 0,
            "learning_rate": 1e-4,
        },
    )
    (folder / "spec.json").write_text(json.dumps(spec.to_json()))
    return folder


def _child_env() -> dict[str, str]:
    return {
        **os.environ,
        TOKEN_ENV: TOKEN,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRL_EXPERIMENTAL_SILENCE": "1",
    }


def test_a_killed_job_resumes_from_its_checkpoint_without_duplicate_or_missing_events(job_folder):
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_STEP_3, str(job_folder)],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert read_status(job_folder)["status"] == "running"  # a dead container writes nothing
    before = _events(job_folder)
    assert [e["data"]["step"] for e in before if e["type"] == "metrics"] == [1, 2, 3]
    assert sorted(p.name for p in job_folder.glob("checkpoint-*")) == ["checkpoint-2"]

    resumed = subprocess.run(
        [sys.executable, "-m", "rftkit.trl.run", str(job_folder)],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert read_status(job_folder)["status"] == "succeeded"
    events = _events(job_folder)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))  # no duplicates
    assert [e["data"]["step"] for e in events if e["type"] == "metrics"] == [1, 2, 3]
    kept = [e for e in before if event_step(e) <= 2]  # step 3's first try is dropped, then redone
    assert events[: len(kept)] == kept and len(kept) < len(before)
    assert events[len(kept)]["message"] == "Resumed from checkpoint-2"
    step_3 = [e for e in events if e["type"] == "metrics" and e["data"]["step"] == 3]
    assert step_3[0] not in before  # written by the resumed run
    checkpoints = sorted(p.name for p in job_folder.glob("checkpoint-*"))
    assert checkpoints[0] == "checkpoint-2" and len(checkpoints) <= 3  # save_total_limit
    assert (job_folder / "final" / "config.json").is_file()


def _events(folder: Path) -> list[dict]:
    lines = (folder / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _fresh_copy(folder: Path, name: str, **spec_changes) -> Path:
    """A new job folder with the same task and (changed) spec, nothing run yet."""
    import shutil

    copy = folder.parent / name
    shutil.copytree(folder / "task", copy / "task")
    spec = json.loads((folder / "spec.json").read_text()) | spec_changes
    (copy / "spec.json").write_text(json.dumps(spec))
    return copy


def test_a_run_that_reaches_its_deadline_stops_checkpointed_as_timed_out(job_folder, monkeypatch):
    from rftkit.trl.run import run_job

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    folder = _fresh_copy(job_folder, "ftjob-trl-deadline")
    assert run_job(folder, timeout_seconds=0.01) == "timed_out"
    status = read_status(folder)
    assert status["status"] == "timed_out" and status["global_step"] == 1
    assert (folder / "checkpoint-1" / "trainer_state.json").is_file()
    assert not (folder / "final").exists()


def test_a_run_that_fails_records_why(job_folder):
    from rftkit.trl.run import run_job

    folder = _fresh_copy(job_folder, "ftjob-trl-broken", model=str(job_folder / "no-such-model"))
    with pytest.raises(Exception, match="no-such-model"):
        run_job(folder, env={TOKEN_ENV: TOKEN})
    status = read_status(folder)
    assert status["status"] == "failed" and "no-such-model" in status["error"]
