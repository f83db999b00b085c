"""How a task's hosted hyperparameters become TRL ``GRPOConfig`` settings: one table.

The counterpart of ``rftkit.local.hyperparameters`` for TRL 1.16's GRPOTrainer:

| hosted | ``GRPOConfig`` setting | rule | "auto" |
|---|---|---|---|
| ``n_epochs`` | ``num_train_epochs`` | the same number | 2 |
| ``batch_size`` (lines/step) | ``per_device_train_batch_size`` | batch_size × group | 8 × 8 |
| ``compute_multiplier`` | ``num_generations`` (group) | max(2, round(8 × multiplier)) | 8 |
| ``eval_interval`` | ``eval_steps``, ``save_steps`` | the same number | 8 |
| ``eval_samples`` | ``num_generations_eval`` | the same number | 1 |
| ``learning_rate_multiplier`` | ``learning_rate`` | 1e-6 × multiplier (TRL's rate) | 1e-6 |
| ``reasoning_effort`` | none | GRPOTrainer has no effort knob | noted |
| ``max_episode_steps`` (turns) | ``max_tool_calling_iterations`` | max_episode_steps − 1 | none |
| task ``seed`` | ``seed`` | the same number | 42 |

``per_device_train_batch_size`` counts completions, so it is ``batch_size`` lines × the group;
``num_generations_eval`` is rollouts per validation line; ``max_tool_calling_iterations`` counts
tool rounds, one fewer than model turns.

The table alone puts a step's batch on one device (``per_device_train_batch_size`` holds
``batch_size`` full groups), which is how the CPU tests run. On GPUs the job spec replaces that
with the layout :mod:`rftkit.trl.memory` picks: the same lines × group per optimizer step as
``per_device_train_batch_size`` × ``gradient_accumulation_steps`` × processes, so one forward pass
never holds the whole batch's logits. Without a validation file there is no evaluation.
Overrides (any ``GRPOConfig`` field) win over the table. This module imports no TRL, so the job
that would run can be shown on a machine without it.
"""

from __future__ import annotations

from typing import Any

from rftkit.hyperparameters import AUTO as BY_BACKEND
from rftkit.hyperparameters import resolve
from rftkit.task import RFTTask

BASE_LR = 1e-6
BASE_GROUP = 8
AUTO = BY_BACKEND["trl-modal"]
"""What "auto" (or leaving a hyperparameter out) means on the TRL backend: the trl-modal column
of ``rftkit.hyperparameters.AUTO``, where every backend's "auto" is resolved."""


def grpo_settings(
    task: RFTTask, overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """``GRPOConfig`` keyword arguments for ``task`` (the table) and notes on what did not map."""
    hyper, _ = resolve(task.hyperparameters, "trl-modal")
    group = max(2, round(BASE_GROUP * hyper["compute_multiplier"]))
    lines = int(hyper["batch_size"])
    settings: dict[str, Any] = {
        "num_train_epochs": float(hyper["n_epochs"]),
        "num_generations": group,
        "per_device_train_batch_size": lines * group,
        "learning_rate": BASE_LR * hyper["learning_rate_multiplier"],
        "logging_steps": 1,
        "report_to": "none",
    }
    if task.validation_file is not None:
        interval = int(hyper["eval_interval"])
        samples = int(hyper["eval_samples"])
        settings |= {
            "eval_strategy": "steps",
            "eval_steps": interval,
            "save_strategy": "steps",
            "save_steps": interval,
            "num_generations_eval": samples,
            "per_device_eval_batch_size": samples * lines,
        }
    if task.max_episode_steps is not None:
        settings["max_tool_calling_iterations"] = task.max_episode_steps - 1
    if task.seed is not None:
        settings["seed"] = task.seed
    notes = []
    if task.hyperparameters.get("reasoning_effort", "default") != "default":
        notes.append(
            f"reasoning_effort={task.hyperparameters['reasoning_effort']} has no GRPOTrainer "
            "counterpart; it is ignored"
        )
    return settings | dict(overrides or {}), notes
