"""TRL GRPO on Modal GPUs for an rftkit task, and vLLM serving of its checkpoints.

Train (the one command; ``--detach`` keeps it running after the terminal closes)::

    modal run --detach -m rftkit.trl.modal_app --task path/to/task.json

Options: ``--model`` (default: the task's ``model`` when it is a hub id such as
``Qwen/Qwen3-4B-Instruct-2507``, else that one), ``--gpu`` (``H100``, ``H100:2`` ... ``B200:8``;
``--vllm-mode server`` gives vLLM GPUs of its own), ``--finetune auto|full|lora``,
``--timeout-hours`` (at most 24), ``--max-steps`` (a short first run). Preflight names the
layouts that fit when the chosen one does not. It runs preflight and prints the
job and its forecast before anything is spent; the task's data files go to the volume
``rftkit-trl-runs`` under the job id, where the job writes ``events.jsonl``, ``status.json`` and
``checkpoint-N/`` (each a full Hugging Face model directory with its tokenizer).

Evaluate the result (deploys ``serve`` for the job's last checkpoint, then runs the kit's
baseline against it): ``python -m rftkit.trl evaluate --task task.json --job <job id>``. By hand:
``RFTKIT_SERVE_CHECKPOINT=<job id>/checkpoint-<N> modal deploy -m rftkit.trl.modal_app`` serves it
at ``https://<workspace>--rftkit-trl-serve.modal.run/v1`` under the model name ``<job id>``.

Secrets (never in the image or the task file): ``rftkit-tool-token`` holds the variables the
task's tool headers reference (the course's: ``RFTKIT_TOOL_TOKEN``, the same secret the tool
service uses); ``rftkit-grader-keys`` holds what its grader needs (``OPENAI_API_KEY`` for model
graders, an endpoint grader's token; ``UNUSED=1`` if the grader needs nothing);
``rftkit-serve-key`` holds ``VLLM_API_KEY``, the key the served endpoint requires; a gated model
also needs ``HF_TOKEN`` in ``rftkit-grader-keys``.

Importing this module needs no Modal token, TRL or GPU: the image, volumes and functions are
only defined (the wiring test checks them); ``describe.local()`` runs offline.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import modal

from rftkit.trl.image import PYTHON_VERSION, TRAINING_STACK, image_requirements
from rftkit.trl.jobspec import MAX_TIMEOUT_HOURS, VLLM_PORT, TRLJobSpec

APP_NAME = "rftkit-trl"
RUNS_VOLUME = "rftkit-trl-runs"
RUNS_DIR = "/runs"
HF_VOLUME = "rftkit-hf-cache"
HF_DIR = "/root/.cache/huggingface"
TOOL_SECRET = "rftkit-tool-token"
GRADER_SECRET = "rftkit-grader-keys"
SERVE_SECRET = "rftkit-serve-key"
SERVE_ENV = "RFTKIT_SERVE_CHECKPOINT"
TRAIN_GPU = "H100"
SERVE_GPU = "H100"


def _requirements() -> list[str]:
    """The image's requirement list (:mod:`rftkit.trl.image`); pyproject.toml is read where the
    app is defined, not in the container, which already has them installed."""
    return image_requirements() if modal.is_local() else list(TRAINING_STACK)


image = (
    modal.Image.debian_slim(python_version=PYTHON_VERSION)
    .uv_pip_install(*_requirements())
    .env({"TRL_EXPERIMENTAL_SILENCE": "1"})
    .add_local_python_source("rftkit", "tools_service")
)
serve_image = image.env({SERVE_ENV: os.environ.get(SERVE_ENV, "")})
app = modal.App(APP_NAME, image=image)
runs = modal.Volume.from_name(RUNS_VOLUME, create_if_missing=True)
hf_cache = modal.Volume.from_name(HF_VOLUME, create_if_missing=True)
TRAIN_SETTINGS: dict[str, Any] = {
    "gpu": TRAIN_GPU,
    "volumes": {RUNS_DIR: runs, HF_DIR: hf_cache},
    "timeout": int(MAX_TIMEOUT_HOURS * 3600),  # launches pass the spec's timeout_hours
    "secrets": [modal.Secret.from_name(TOOL_SECRET), modal.Secret.from_name(GRADER_SECRET)],
}


def job_dir(job_id: str) -> Path:
    return Path(RUNS_DIR) / job_id


def _start_vllm_server(spec: TRLJobSpec, gpus: list[int], tensor_parallel: int) -> subprocess.Popen:
    """``trl vllm-serve`` (vLLM in the mode TRL's client needs) on ``gpus``, for
    ``vllm_mode="server"``; waits until its ``/health`` answers."""
    import httpx

    server = subprocess.Popen(
        [
            "trl",
            "vllm-serve",
            "--model",
            spec.model,
            "--port",
            str(VLLM_PORT),
            "--tensor_parallel_size",
            str(tensor_parallel),
            "--max_model_len",
            str(spec.max_prompt_length + spec.max_completion_length),
        ],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus))},
    )
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"trl vllm-serve exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{VLLM_PORT}/health", timeout=5).is_success:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(5)
    server.terminate()
    raise RuntimeError("trl vllm-serve did not become healthy within 20 minutes")


@app.function(**TRAIN_SETTINGS)
def train(job_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run (or, after a preemption, resume) GRPO for the job in ``/runs/<job_id>``: one process,
    or ``accelerate launch`` over the training GPUs with vLLM on the rest (the plan's layout)."""
    from rftkit.task import RFTTask
    from rftkit.trl.run import read_status, run_job, write_status

    job = TRLJobSpec(**spec)
    runs.reload()
    folder = job_dir(job_id)
    layout = job.plan(RFTTask.load(folder / "task" / "task.json"))
    # a model outside the memory table: one training process, vLLM (server mode) on GPU 1
    processes = layout.train_processes if layout else 1
    vllm_gpus, tensor_parallel = (
        (layout.vllm_gpus, layout.vllm_tensor_parallel) if layout else (1, 1)
    )
    server = None
    try:
        if job.vllm_mode == "server":
            gpus = list(range(processes, processes + vllm_gpus))
            server = _start_vllm_server(job, gpus, tensor_parallel)
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(processes)))
        if processes == 1:
            status = run_job(
                folder, env=os.environ, timeout_seconds=job.timeout_seconds, on_save=runs.commit
            )
        else:
            status = _run_processes(folder, processes, job.timeout_seconds)
        return {"status": status}
    except Exception as exc:  # a failure before the run could record it (a cancellation is
        # modal's InputCancellation, a BaseException: it passes, and `cancel` records it)
        if (read_status(folder) or {}).get("status") != "failed":
            write_status(folder, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        runs.commit()
        if server is not None:
            server.terminate()


def _run_processes(folder: Path, processes: int, timeout_seconds: int) -> str:
    """``accelerate launch`` the run; the volume is committed every minute while it trains."""
    from rftkit.trl.run import launch_command, read_status

    env = {**os.environ, "RFTKIT_TIMEOUT_SECONDS": str(timeout_seconds)}
    child = subprocess.Popen(launch_command(folder, processes), env=env)
    while child.poll() is None:
        time.sleep(60)
        runs.commit()
    status = (read_status(folder) or {}).get("status", "failed")
    if child.returncode != 0 and status == "running":
        raise RuntimeError(f"the training processes exited with {child.returncode}")
    return status


@app.function(
    image=serve_image,
    gpu=SERVE_GPU,
    volumes={RUNS_DIR: runs, HF_DIR: hf_cache},
    secrets=[modal.Secret.from_name(SERVE_SECRET, required_keys=["VLLM_API_KEY"])],
    scaledown_window=600,
    timeout=3600,
)
@modal.concurrent(max_inputs=32)
@modal.web_server(port=VLLM_PORT, startup_timeout=1200, label="rftkit-trl-serve")
def serve() -> None:
    """vLLM's OpenAI-compatible server for the checkpoint named at deploy time (``SERVE_ENV``)."""
    checkpoint = os.environ.get(SERVE_ENV, "")
    if not checkpoint:
        raise RuntimeError(f"set {SERVE_ENV}=<job id>/checkpoint-<N> when deploying")
    job_id = checkpoint.split("/")[0]
    spec = json.loads((job_dir(job_id) / "spec.json").read_text(encoding="utf-8"))
    subprocess.Popen(serve_command(Path(RUNS_DIR) / checkpoint, job_id, spec["model"]))


def serve_command(checkpoint: Path, job_id: str, base_model: str) -> list[str]:
    """``vllm serve`` for a checkpoint under the model name ``job_id``: a full model directory
    as it is; a LoRA checkpoint (``adapter_config.json``) as an adapter on its base model."""
    from rftkit.trl.gpus import MODELS
    from rftkit.trl.memory import LORA_RANK

    known = MODELS.get(base_model)
    parser = known.vllm_tool_parser if known else "hermes"
    if (checkpoint / "adapter_config.json").is_file():
        model = [base_model, "--enable-lora", "--lora-modules", f"{job_id}={checkpoint}"]
        model += ["--max-lora-rank", str(LORA_RANK)]
    else:
        model = [str(checkpoint), "--served-model-name", job_id]
    return [
        "vllm",
        "serve",
        *model,
        "--host",
        "0.0.0.0",
        "--port",
        str(VLLM_PORT),
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        parser,
    ]


@app.function(image=image)
def describe(task_json: str, spec: dict[str, Any]) -> str:
    """The job table and forecast for a task (runs offline with ``.local()``)."""
    from rftkit.task import RFTTask
    from rftkit.trl.describe import describe_job

    task = RFTTask.model_validate_json(task_json)
    return describe_job(task, TRLJobSpec(**spec)).to_string()


@app.local_entrypoint()
def main(
    task: str,
    model: str = "",
    gpu: str = TRAIN_GPU,
    vllm_mode: str = "colocate",
    finetune: str = "auto",
    timeout_hours: float = 24.0,
    max_steps: int = 0,
) -> None:
    """Preflight, show the job and its forecast, upload the task, run GRPO on Modal."""
    from rftkit.task import RFTTask
    from rftkit.trl.describe import describe_job
    from rftkit.trl.preflight import preflight

    loaded = RFTTask.load(task)
    model = model or (loaded.model if "/" in loaded.model else TRLJobSpec.model)
    overrides = {"max_steps": max_steps} if max_steps else {}
    try:
        spec = TRLJobSpec(
            model=model,
            gpu=gpu,
            vllm_mode=vllm_mode,  # type: ignore[arg-type]
            finetune=finetune,  # type: ignore[arg-type]
            timeout_hours=timeout_hours,
            overrides=overrides,
        )
    except ValueError as exc:
        sys.exit(f"bad option: {exc}")
    report = preflight(loaded, spec)
    print(report.render())
    if not report.ok:
        sys.exit(1)
    print(describe_job(loaded, spec).to_string())
    job_id = f"ftjob-trl-{uuid.uuid4().hex[:12]}"
    with runs.batch_upload() as upload:
        for path, remote in upload_plan(loaded, job_id).items():
            upload.put_file(path, remote)
        upload.put_file(json_bytes(spec.to_json()), f"/{job_id}/spec.json")
    call = train.with_options(gpu=spec.gpu, timeout=spec.timeout_seconds).spawn(
        job_id, spec.to_json()
    )
    with runs.batch_upload() as upload:  # so `python -m rftkit.trl cancel` finds the call
        upload.put_file(json_bytes({"call_id": call.object_id}), f"/{job_id}/call.json")
    print(f"job {job_id}: training on {spec.gpu} (volume {RUNS_VOLUME}, folder {job_id})")
    print(call.get())


def upload_plan(task: Any, job_id: str) -> dict[Any, str]:
    """Local file (or bytes) -> volume path: the data files and a task.json that names them."""
    folder = f"/{job_id}/task"
    plan = {str(task.path("train")): f"{folder}/{task.training_file.name}"}
    body = task.model_dump(mode="json", exclude_none=True)
    body["training_file"] = task.training_file.name
    if task.validation_file is not None:
        plan[str(task.path("validation"))] = f"{folder}/valid-{task.validation_file.name}"
        body["validation_file"] = f"valid-{task.validation_file.name}"
    plan[json_bytes(body)] = f"{folder}/task.json"
    return plan


def json_bytes(body: dict[str, Any]) -> io.BytesIO:
    """A small JSON file to upload to the volume."""
    return io.BytesIO(json.dumps(body).encode("utf-8"))
