"""Two training processes on the CPU: the job runner under ``accelerate launch`` (gloo), with LoRA.

The same runner (``rftkit.trl.run.run_job``) the Modal app launches over several GPUs, here as two
CPU processes (torchrun's launcher, gloo, data parallel: the FSDP2 options need GPUs), on a tiny
model with a LoRA adapter. (``accelerate launch --cpu`` would start one process only.)
It checks what multi-process adds: one event stream and one status written by the main process,
metrics gathered from both processes' rollouts (every call the tool service saw is counted, each
under a rollout's own trace id), and one set of checkpoints (adapters).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from test_trl_resume import (  # noqa: F401
    TOKEN,
    _child_env,
    _events,
    _fresh_copy,
    job_folder,
    tool_service,
)

from rftkit.trl.run import read_status

RUN_TINY = """
import sys
from rftkit.trl.run import run_job
from rftkit.trl.tiny import load_tiny_tokenizer
run_job(sys.argv[1], tokenizer=load_tiny_tokenizer({tokenizer!r}))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_write_one_stream_with_both_processes_rollouts(job_folder, tool_service):  # noqa: F811
    spec = json.loads((job_folder / "spec.json").read_text())
    overrides = spec["overrides"] | {
        "max_steps": 2,
        "per_device_train_batch_size": 2,  # 2 lines x a group of 2 = 4 completions, 2 per process
        "model_init_kwargs": {"dtype": "float32"},
    }
    folder = _fresh_copy(job_folder, "ftjob-trl-ddp", finetune="lora", overrides=overrides)
    runner = folder / "run_tiny.py"  # rftkit.trl.run's run_job, given the tiny tokenizer
    runner.write_text(RUN_TINY.format(tokenizer=spec["model"]))
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",  # torchrun's launcher; with no GPU each process is a CPU one on gloo
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        str(runner),
        str(folder),
    ]
    _, recorder = tool_service
    before = len(recorder.trace_ids)
    result = subprocess.run(command, env=_child_env(), capture_output=True, text=True, timeout=900)
    calls = recorder.trace_ids[before:]
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_status(folder)["status"] == "succeeded"
    events = _events(folder)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))  # one writer
    metrics = [e["data"] for e in events if e["type"] == "metrics"]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["rollouts"] == 4 for m in metrics)  # both processes' two rollouts each
    # every call the service saw is counted in the gathered metrics, under a rollout's trace id
    counted = sum(m["tool_calls_per_rollout"] * m["rollouts"] for m in metrics)
    assert calls and len(calls) == round(counted)
    assert all(t.startswith("trace_") for t in calls) and len(set(calls)) <= 8
    assert sorted(p.name for p in folder.glob("checkpoint-*")) == ["checkpoint-2"]
    assert (folder / "checkpoint-2" / "adapter_config.json").is_file()  # LoRA: the adapters
    assert not (folder / "checkpoint-2" / "model.safetensors").exists()
