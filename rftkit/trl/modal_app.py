"""TRL GRPO on Modal GPUs for an rftkit task, and vLLM serving of its checkpoints.

Train (the one command; ``--detach`` keeps it running after the terminal closes)::

    modal run --detach -m rftkit.trl.modal_app --task path/to/task.json

Options: ``--model`` (default: the task's ``model`` when it is a hub id such as
``Qwen/Qwen3-4B-Instruct-2507``, else that one), ``--gpu`` (``H100``; ``H100:2``
with ``--vllm-mode server``), ``--max-steps`` (a short first run). It runs preflight and prints the
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
from rftkit.trl.jobspec import VLLM_PORT, TRLJobSpec

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
    "timeout": 24 * 3600,
    "secrets": [modal.Secret.from_name(TOOL_SECRET), modal.Secret.from_name(GRADER_SECRET)],
}


def job_dir(job_id: str) -> Path:
    return Path(RUNS_DIR) / job_id


def _write_status(job_id: str, status: str, error: str | None = None) -> None:
    body = {"status": status, "error": error, "updated_at": int(time.time())}
    (job_dir(job_id) / "status.json").write_text(json.dumps(body), encoding="utf-8")
    runs.commit()


def _start_vllm_server(model: str) -> subprocess.Popen:
    """``trl vllm-serve`` (vLLM in the dev mode TRL's client needs) on the second GPU, for
    ``vllm_mode="server"``; waits until its ``/health`` answers."""
    import httpx

    server = subprocess.Popen(
        ["trl", "vllm-serve", "--model", model, "--port", str(VLLM_PORT)],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "1"},
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
    """Run GRPO for the task uploaded under ``/runs/<job_id>/task``; returns the final status."""
    job = TRLJobSpec(**spec)
    runs.reload()
    server = None
    try:
        if job.vllm_mode == "server":
            server = _start_vllm_server(job.model)
            os.environ["CUDA_VISIBLE_DEVICES"] = "0"  # before torch sees the GPUs
        from transformers import TrainerCallback

        from rftkit.task import RFTTask
        from rftkit.trl.trainer import build_trainer

        class CommitToVolume(TrainerCallback):
            """Make events and checkpoints visible to readers outside the container."""

            def on_log(self, args, state, control, **kwargs):
                runs.commit()

            def on_save(self, args, state, control, **kwargs):
                runs.commit()

        task = RFTTask.load(job_dir(job_id) / "task" / "task.json")
        _write_status(job_id, "running")
        built = build_trainer(
            task,
            job.model,
            None,
            job_dir(job_id),
            env=os.environ,
            overrides=job.grpo_overrides(),
        )
        built.trainer.add_callback(CommitToVolume())
        built.trainer.train()
        built.trainer.save_model(str(job_dir(job_id) / "final"))
        _write_status(job_id, "succeeded")
        return {"status": "succeeded"}
    except Exception as exc:  # the reason is kept on the volume for `status`, then re-raised
        _write_status(job_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if server is not None:
            server.terminate()


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
    from rftkit.trl.gpus import MODELS

    checkpoint = os.environ.get(SERVE_ENV, "")
    if not checkpoint:
        raise RuntimeError(f"set {SERVE_ENV}=<job id>/checkpoint-<N> when deploying")
    job_id = checkpoint.split("/")[0]
    spec = json.loads((job_dir(job_id) / "spec.json").read_text(encoding="utf-8"))
    known = MODELS.get(spec["model"])
    parser = known.vllm_tool_parser if known else "hermes"
    subprocess.Popen(
        [
            "vllm",
            "serve",
            str(Path(RUNS_DIR) / checkpoint),
            "--served-model-name",
            job_id,
            "--host",
            "0.0.0.0",
            "--port",
            str(VLLM_PORT),
            "--enable-auto-tool-choice",
            "--tool-call-parser",
            parser,
        ]
    )


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
    max_steps: int = 0,
) -> None:
    """Preflight, show the job and its forecast, upload the task, run GRPO on Modal."""
    from rftkit.task import RFTTask
    from rftkit.trl.describe import describe_job
    from rftkit.trl.preflight import preflight

    loaded = RFTTask.load(task)
    model = model or (loaded.model if "/" in loaded.model else TRLJobSpec.model)
    overrides = {"max_steps": max_steps} if max_steps else {}
    spec = TRLJobSpec(model=model, gpu=gpu, vllm_mode=vllm_mode, overrides=overrides)  # type: ignore[arg-type]
    report = preflight(loaded, spec)
    print(report.text())
    if not report.passed:
        sys.exit(1)
    print(describe_job(loaded, spec).to_string())
    job_id = f"ftjob-trl-{uuid.uuid4().hex[:12]}"
    with runs.batch_upload() as upload:
        for path, remote in upload_plan(loaded, job_id).items():
            upload.put_file(path, remote)
        upload.put_file(json_bytes(spec.to_json()), f"/{job_id}/spec.json")
    print(f"job {job_id}: training on {spec.gpu} (volume {RUNS_VOLUME}, folder {job_id})")
    train.with_options(gpu=spec.gpu).remote(job_id, spec.to_json())


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
