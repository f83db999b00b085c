"""The jobs interface's ``local`` backend: launch, events, pause/resume, checkpoints, cancel."""

import pytest
import torch

from rftkit.jobs import LocalJob, launch
from rftkit.local.model import ModelConfig, TinyLM

TINY_RUN = {
    "steps": 2,
    "tasks_per_step": 2,
    "group_size": 2,
    "max_episode_steps": 2,
    "train_worlds": 1,
    "triage_tasks": 2,
    "triage_repeats": 2,
    "valid_worlds": 1,
    "valid_tasks_per_world": 2,
    "eval_interval": 1,
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


def test_a_paused_job_resumes_and_finishes_with_events_and_checkpoints(checkpoint, tmp_path):
    job = LocalJob(model=checkpoint, hyperparameters=TINY_RUN, out_dir=tmp_path)
    assert job.status == "queued" and job.id.startswith("ftjob-local-")
    job.start().pause()
    assert job.wait(timeout=120) == "paused" and job.trainer.step == 0
    job.resume()
    assert job.wait(timeout=120) == "succeeded"
    streamed = list(job.stream())
    assert streamed == job.events()
    assert streamed[0]["message"].startswith("Learnability triage")
    metrics = [e for e in streamed if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == [1, 2]
    assert job.events(after=metrics[0]["id"]) == [metrics[1]]
    assert [c["step_number"] for c in job.checkpoints()] == [1, 2]
    assert all((tmp_path / "checkpoints" / f"step-{n}.pt").exists() for n in (1, 2))


def test_cancel_before_start_and_bad_specs(checkpoint, tmp_path):
    job = LocalJob(model=checkpoint, hyperparameters=TINY_RUN, out_dir=tmp_path)
    assert job.cancel().status == "cancelled"
    with pytest.raises(RuntimeError, match="cancelled"):
        job.start()
    with pytest.raises(ValueError, match="unknown learning_rate"):
        LocalJob(model=checkpoint, hyperparameters={"learning_rate": 1.0})
    with pytest.raises(ValueError, match="known backends: local"):
        launch("openai", model=checkpoint)
