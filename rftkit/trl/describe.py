"""The exact TRL job on Modal a task would start, and its forecast, as one table.

For notebook 05 and the CLI: offline it shows what would run; nothing here needs Modal or a GPU.

The forecast has two parts. The **ceiling** is certain: the train function's timeout (the spec's
``timeout_hours``, 24 h by default, which the launch passes to Modal) × GPUs × the list price;
the job stops there. The **estimate** is planned steps × seconds per step: the
seconds are an assumption (``ASSUMED_STEP_SECONDS``) until a first run measures them; pass
``seconds_per_step`` from its events (``timing.step.full_iteration``) to re-forecast.
"""

from __future__ import annotations

import pandas as pd

from rftkit.task import RFTTask
from rftkit.trl.gpus import PRICE_DATE, PRICE_SOURCE, parse_gpu
from rftkit.trl.hyperparameters import grpo_settings
from rftkit.trl.image import TRAINING_STACK
from rftkit.trl.jobspec import TRLJobSpec, planned_steps

ASSUMED_STEP_SECONDS = 120.0
"""An assumption, not a measurement: one GRPO step of a ~4B model with colocated vLLM, 64 multi-
turn rollouts, on one H100. Replace it with your first steps' measured time."""
STARTUP_HOURS = 0.25
"""Also assumed: image pull, model download to the cache volume, vLLM start."""


def forecast(
    task: RFTTask, spec: TRLJobSpec | None = None, seconds_per_step: float | None = None
) -> dict[str, float | int | str]:
    """GPU-hours and dollars: the estimate (see the module docstring) and the ceiling."""
    spec = spec or TRLJobSpec()
    gpu, count = parse_gpu(spec.gpu)
    steps = planned_steps(task, spec)
    seconds = ASSUMED_STEP_SECONDS if seconds_per_step is None else seconds_per_step
    hours = (steps * seconds / 3600 + STARTUP_HOURS) * count
    return {
        "steps": steps,
        "seconds_per_step": seconds,
        "seconds_per_step_source": "assumed" if seconds_per_step is None else "measured",
        "gpu_hours": hours,
        "usd": hours * gpu.usd_per_hour,
        "ceiling_gpu_hours": spec.timeout_hours * count,
        "ceiling_usd": spec.timeout_hours * count * gpu.usd_per_hour,
        "usd_per_gpu_hour": gpu.usd_per_hour,
        "price_source": PRICE_SOURCE,
        "price_date": PRICE_DATE,
    }


def describe_job(
    task: RFTTask, spec: TRLJobSpec | None = None, seconds_per_step: float | None = None
) -> pd.DataFrame:
    """One row per setting: what runs where, the GRPOConfig it gets, and the forecast."""
    from rftkit.trl.modal_app import APP_NAME, RUNS_VOLUME

    spec = spec or TRLJobSpec()
    settings, notes = grpo_settings(task, spec.grpo_overrides(task))
    layout = spec.plan(task)
    cost = forecast(task, spec, seconds_per_step)
    rows = [
        (
            "command",
            f"modal run --detach -m rftkit.trl.modal_app --task {task.root / 'task.json'}"
            f" --model {spec.model} --gpu {spec.gpu} --vllm-mode {spec.vllm_mode}"
            f" --finetune {spec.method}",
        ),
        ("modal app / volume", f"{APP_NAME} / {RUNS_VOLUME}"),
        ("image", ", ".join(TRAINING_STACK)),
        ("model", spec.model),
        ("gpu", spec.gpu),
        ("vllm_mode", spec.vllm_mode),
        ("fine-tuning", spec.method + (f" {spec.lora_settings()}" if spec.lora_settings() else "")),
        ("layout (memory rule)", layout.summary() if layout else "model not in the table"),
        ("timeout", f"{spec.timeout_hours:g} h (checkpointed and timed_out before it)"),
        ("tools", ", ".join(f"{t.name} -> {t.server_url}" for t in task.tools) or "none"),
        ("grader", str(task.grader.get("name") or task.grader.get("type"))),
    ]
    rows += [(f"GRPOConfig.{k}", repr(v)) for k, v in sorted(settings.items())]
    rows += [("note", n) for n in notes]
    rows += [
        ("planned steps", str(cost["steps"])),
        ("seconds per step", f"{cost['seconds_per_step']:g} ({cost['seconds_per_step_source']})"),
        ("GPU-hours (estimate)", f"{cost['gpu_hours']:.2f}"),
        ("cost USD (estimate)", f"{cost['usd']:.2f}"),
        ("cost USD (ceiling)", f"{cost['ceiling_usd']:.2f} ({cost['ceiling_gpu_hours']:g} GPU-h)"),
        ("price", f"${cost['usd_per_gpu_hour']}/GPU-hour; {cost['price_source']}"),
    ]
    return pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting")
