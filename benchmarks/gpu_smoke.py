"""GPU smoke of the TRL backend: a few GRPO steps of a small Qwen model with LoRA and colocated
vLLM on one H100, against the course's deployed tools; records what the forecast needs.

With a GPU (Modal credentials, the course's tools deployed and the secrets created as in the
README's TRL section; about 15 minutes, most of it image build and model download)::

    python benchmarks/gpu_smoke.py --tools-url https://<workspace>--rftkit-tools.modal.run

It launches ``Qwen/Qwen3-0.6B``, LoRA, ``H100``, colocated vLLM, ``max_steps=3`` through the
``trl-modal`` backend, waits for the job and writes ``rftkit/trl/gpu_smoke.json``: seconds
per step, completion tokens per second, peak GPU memory, tool calls per rollout and discarded
rollouts, with the model, GPU and method they were measured for (inside the package, so a wheel
built afterwards ships it; ``--out DIR`` writes it there instead).
:func:`rftkit.trl.describe.forecast` uses that step time for a job with the same model, GPU and
method instead of its assumption.

Without a GPU (CI runs this path): ``python benchmarks/gpu_smoke.py --cpu`` runs the same job
runner (``rftkit.trl.run``) on the CPU with a tiny model built offline against the course's tool
service on loopback, and writes ``gpu_smoke_cpu.json``, which the forecast never reads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "Qwen/Qwen3-0.6B"
GPU = "H100"
STEPS = 3


def summarize(events: list[dict[str, Any]], *, model: str, gpu: str, method: str) -> dict:
    """The measured step time, tokens per second and peak memory from a job's metrics events."""
    steps = [e["data"] for e in events if e.get("type") == "metrics"]
    if not steps:
        raise RuntimeError("the job wrote no metrics events: see its events and status")
    seconds = [s["timing"]["step"]["full_iteration"] for s in steps]
    memory = [s.get("peak_memory_gb") for s in steps if s.get("peak_memory_gb") is not None]
    rates = [s["tokens_per_second"] for s in steps if s.get("tokens_per_second") is not None]
    return {
        "model": model,
        "gpu": gpu,
        "method": method,
        "steps": len(steps),
        "seconds_per_step": statistics.median(seconds),
        "seconds_per_step_each": seconds,
        "tokens_per_second": statistics.median(rates) if rates else None,
        "peak_memory_gb": max(memory) if memory else None,
        "tool_calls_per_rollout": statistics.fmean(s["tool_calls_per_rollout"] for s in steps),
        "discarded_rollouts": sum(s["discarded_rollouts"] for s in steps),
        "measured_at": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def on_gpu(tools_url: str) -> dict:
    from rftkit.course.task import trl_course_task
    from rftkit.trl.backend import launch_trl_modal
    from rftkit.trl.jobspec import TRLJobSpec

    task = trl_course_task(tools_url, Path(tempfile.mkdtemp(prefix="gpu-smoke-")))
    spec = TRLJobSpec(
        model=MODEL, gpu=GPU, finetune="lora", timeout_hours=1, overrides={"max_steps": STEPS}
    )
    job = launch_trl_modal(task, spec=spec)
    print(f"launched {job.id}; waiting (python -m rftkit.trl events {job.id})")
    status = job.wait(timeout=3600, poll=30)
    if status != "succeeded":
        raise RuntimeError(f"job {job.id} ended {status}: {job.as_job().get('error')}")
    return summarize(job.events(), model=MODEL, gpu=GPU, method=spec.method)


def on_cpu() -> dict:
    """The same runner on the CPU: a tiny model, the course's tools on loopback."""
    import os

    from rftkit.course.task import CourseTaskSize, serve_course_task
    from rftkit.trl.jobspec import TRLJobSpec
    from rftkit.trl.run import run_job
    from rftkit.trl.tiny import tiny_model_that_opens_with_a_call

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    size = CourseTaskSize(train_worlds=1, train_per_world=2, valid_worlds=1, valid_per_world=2)
    root = Path(tempfile.mkdtemp(prefix="gpu-smoke-cpu-"))
    with serve_course_task(root / "job" / "task", size) as served:
        task = served.task
        task.hyperparameters = {"n_epochs": 2, "batch_size": 2, "compute_multiplier": 0.25}
        task.validation_file = None
        task.save(root / "job" / "task" / "task.json")
        model, tokenizer = tiny_model_that_opens_with_a_call(task, served.env)
        model.save_pretrained(root / "tiny")
        tokenizer.save_pretrained(root / "tiny")
        spec = TRLJobSpec(
            model=str(root / "tiny"),
            finetune="lora",
            overrides={
                "use_vllm": False,
                "use_cpu": True,
                "bf16": False,
                "model_init_kwargs": {"dtype": "float32"},
                "max_steps": 2,
                "max_completion_length": 96,
                "dataloader_num_workers": 0,
            },
        )
        (root / "job" / "spec.json").write_text(json.dumps(spec.to_json()))
        status = run_job(root / "job", env=served.env, tokenizer=tokenizer)
    if status != "succeeded":
        raise RuntimeError(f"the CPU smoke ended {status}")
    lines = (root / "job" / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    return summarize(events, model="tiny (CPU)", gpu="cpu", method=spec.method)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tools-url", help="the deployed course tool service (GPU path)")
    where.add_argument("--cpu", action="store_true", help="the CPU path with a tiny model")
    parser.add_argument("--out", type=Path, help="folder of the result (default: see above)")
    args = parser.parse_args(argv)
    result = on_cpu() if args.cpu else on_gpu(args.tools_url)
    from rftkit.trl.describe import SMOKE_RESULTS

    name = "gpu_smoke_cpu.json" if args.cpu else "gpu_smoke.json"
    if args.out is not None:
        path = args.out / name
    else:
        path = RESULTS / name if args.cpu else SMOKE_RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
