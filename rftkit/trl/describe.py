"""The exact TRL job on Modal a task would start, and its forecast, as one table.

For notebook 05 and the CLI: offline it shows what would run; nothing here needs Modal or a GPU.

The forecast has two parts. The **ceiling** is certain: the train function's timeout (the spec's
``timeout_hours``, 24 h by default, which the launch passes to Modal) × GPUs × the list price;
the job stops there. The **estimate** is planned steps × seconds per step: the
seconds are an assumption (``ASSUMED_STEP_SECONDS``) until a run measures them: pass
``seconds_per_step`` from a job's events (``timing.step.full_iteration``), or run
``benchmarks/gpu_smoke.py`` on a GPU: it writes ``rftkit/trl/gpu_smoke.json`` (``SMOKE_RESULTS``,
inside the package so an installed wheel carries the measurement), which the forecast uses for a
job with the same model, GPU and method.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rftkit.hyperparameters import resolve
from rftkit.jobs.forecast import Forecast, Plan
from rftkit.task import RFTTask
from rftkit.trl.gpus import PRICE_DATE, PRICE_SOURCE, parse_gpu
from rftkit.trl.hyperparameters import BASE_GROUP, grpo_settings
from rftkit.trl.image import TRAINING_STACK
from rftkit.trl.jobspec import TRLJobSpec, planned_steps

SMOKE_RESULTS = Path(__file__).resolve().parent / "gpu_smoke.json"
"""The GPU smoke's measurement, shipped with the package (absent until a GPU run writes it)."""

ASSUMED_STEP_SECONDS = 120.0
"""An assumption, not a measurement: one GRPO step of a ~4B model with colocated vLLM, 64 multi-
turn rollouts, on one H100. Replace it with your first steps' measured time."""
STARTUP_HOURS = 0.25
"""Also assumed: image pull, model download to the cache volume, vLLM start."""


def measured_step_seconds(spec: TRLJobSpec, results: Path = SMOKE_RESULTS) -> float | None:
    """The GPU smoke's median step time, when it measured this spec's model, GPU and method."""
    if not results.is_file():
        return None
    measured = json.loads(results.read_text(encoding="utf-8"))
    if (measured["model"], measured["gpu"], measured["method"]) != (
        spec.model,
        spec.gpu,
        spec.method,
    ):
        return None
    return float(measured["seconds_per_step"])


def forecast(
    task: RFTTask,
    spec: TRLJobSpec | None = None,
    seconds_per_step: float | None = None,
    results: Path = SMOKE_RESULTS,
) -> Forecast:
    """GPU-hours and dollars: the estimate (see the module docstring) and the ceiling, as the
    :class:`~rftkit.jobs.forecast.Forecast` every backend returns (its ``figures`` hold the
    GPU-hours, the step time and its source, and the ceiling: ``fc["gpu_hours"]``)."""
    spec = spec or TRLJobSpec()
    gpu, count = parse_gpu(spec.gpu)
    steps = planned_steps(task, spec)
    source = "measured"
    if seconds_per_step is None:
        seconds_per_step = measured_step_seconds(spec, results)
        source = "measured by benchmarks/gpu_smoke.py"
    if seconds_per_step is None:
        source = "assumed"
    seconds = ASSUMED_STEP_SECONDS if seconds_per_step is None else seconds_per_step
    wall = steps * seconds / 3600 + STARTUP_HOURS
    hours = wall * count
    figures = {
        "steps": steps,
        "seconds_per_step": seconds,
        "seconds_per_step_source": source,
        "gpu_hours": hours,
        "usd": hours * gpu.usd_per_hour,
        "ceiling_gpu_hours": spec.timeout_hours * count,
        "ceiling_usd": spec.timeout_hours * count * gpu.usd_per_hour,
        "usd_per_gpu_hour": gpu.usd_per_hour,
        "price_source": PRICE_SOURCE,
        "price_date": PRICE_DATE,
    }
    hyper, _ = resolve(task.hyperparameters, "trl-modal")
    per_step = int(hyper["batch_size"]) * max(2, round(BASE_GROUP * hyper["compute_multiplier"]))
    n_valid = len(task.items("validation"))
    evals = steps // int(hyper["eval_interval"]) if n_valid else 0
    notes = (
        f"{seconds:g} seconds per step ({source}); {STARTUP_HOURS:g} h start-up",
        f"{count} x {gpu.name} at ${gpu.usd_per_hour}/GPU-hour ({PRICE_SOURCE}, {PRICE_DATE})",
        f"ceiling: the {spec.timeout_hours:g} h timeout, {figures['ceiling_gpu_hours']:g} "
        f"GPU-hours, ${figures['ceiling_usd']:,.2f}",
    )
    return Forecast(
        task.name,
        "trl-modal",
        spec.model,
        Plan(steps, per_step, evals, evals * n_valid * int(hyper["eval_samples"]), ()),
        None,
        (wall, wall),
        (figures["usd"], figures["usd"]),
        None,
        {t.name: t.server_url for t in task.tools},
        0.0,
        notes,
        figures,
    )


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


TABLE_MODELS = (
    "Qwen/Qwen3-0.6B",
    "Qwen/Qwen3-1.7B",
    "Qwen/Qwen3-4B",
    "Qwen/Qwen3-8B",
    "Qwen/Qwen3-32B",
)
TABLE_GPUS = ("H100", "H100:2", "H100:8")


def fit_table(
    models: tuple[str, ...] = TABLE_MODELS,
    gpus: tuple[str, ...] = TABLE_GPUS,
    *,
    completions_per_step: int = 64,
    prompt_tokens: int = 2048,
    completion_tokens: int = 4096,
) -> str:
    """Markdown: for each model, GPU count and method, the layout that fits (colocated vLLM
    preferred) with its micro-batch and training GB per GPU, or what the best one needs.
    ``python -m rftkit.trl fits`` prints it; every figure is the memory rule's, none measured."""
    from rftkit.trl.gpus import MODELS
    from rftkit.trl.memory import plan

    header = ["model", "params"] + [f"{g} {m}" for g in gpus for m in ("full", "LoRA")]
    rows = [header, ["---"] * len(header)]
    for name in models:
        arch = MODELS[name].architecture
        row = [name.split("/")[-1], f"{arch.billion_parameters:.1f}B"]
        for spec in gpus:
            gpu, count = parse_gpu(spec)
            for method in ("full", "lora"):
                layouts = [
                    plan(
                        arch,
                        gpu,
                        count,
                        vllm_mode=mode,
                        finetune=method,
                        completions_per_step=completions_per_step,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens,
                    )
                    for mode in (("colocate", "server") if count > 1 else ("colocate",))
                ]
                fitting = [p for p in layouts if p.fits]
                if fitting:
                    p = fitting[0]
                    row.append(
                        f"yes: {p.vllm_mode}, mb {p.micro_batch}×{p.gradient_accumulation}, "
                        f"{p.train_total_gb:.0f}/{p.train_budget_gb():.0f} GB"
                    )
                else:
                    best = min(layouts, key=lambda p: p.train_total_gb)
                    short = [
                        "vLLM share" if text.startswith("vLLM") else f"{best.train_total_gb:.0f} GB"
                        for text in best.problems
                    ]
                    row.append(f"no: {' + '.join(short)}")
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)
