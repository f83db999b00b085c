"""How a task's hosted hyperparameters become the local engine's GRPO settings: one table.

The hosted API names what a job spends (docs/hosted-api.md §2.3); GRPO has its own knobs.
The mapping:

| hosted | local GRPO setting | rule | "auto" |
|---|---|---|---|
| ``n_epochs`` | ``steps`` | ceil(n_epochs × training lines ÷ batch_size) | 2 epochs |
| ``batch_size`` | ``tasks_per_step`` | the same number | 8 |
| ``compute_multiplier`` | ``group_size`` (rollouts per task) | max(2, round(6 × multiplier)) | 6 |
| ``eval_interval`` | ``eval_interval`` | the same number | 8 |
| ``eval_samples`` | ``valid_repeats`` (rollouts per validation line) | the same number | 1 |
| ``learning_rate_multiplier`` | ``lr`` | 3e-4 × multiplier | 3e-4 |
| ``reasoning_effort`` | none | how long the local model reasons is learned, not set | ignored |
| task ``max_episode_steps`` | ``max_episode_steps`` | the same number | 12 |
| task ``seed`` | ``seed`` | the same number | 0 |

The "auto" column is resolved by ``rftkit.hyperparameters`` (one table for every backend).
GRPO-only settings (``kl_coef``, ``temperature``, ``top_p``, ``triage_repeats``, ``triage_tasks``,
``threads``, ``workers``, ``batch_tokens``) keep their defaults unless given as overrides, which
win over the mapping.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rftkit.hyperparameters import AUTO as BY_BACKEND
from rftkit.hyperparameters import resolve
from rftkit.local.grpo import GRPOConfig
from rftkit.task import RFTTask

BASE_LR = GRPOConfig.lr
BASE_GROUP = GRPOConfig.group_size
AUTO = BY_BACKEND["local"]
"""What "auto" (or leaving a hyperparameter out) means on the local engine: the local column of
``rftkit.hyperparameters.AUTO``, where every backend's "auto" is resolved."""


def grpo_config(
    task: RFTTask, training_lines: int, overrides: dict[str, Any] | None = None
) -> tuple[GRPOConfig, list[str]]:
    """The GRPO settings for ``task`` (see the table) and notes on what did not map."""
    overrides = dict(overrides or {})
    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"GRPO settings: unknown {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    hyper, _ = resolve(task.hyperparameters, "local")
    batch = int(hyper["batch_size"])
    mapped = {
        "steps": max(1, math.ceil(hyper["n_epochs"] * training_lines / batch)),
        "tasks_per_step": batch,
        "group_size": max(2, round(BASE_GROUP * hyper["compute_multiplier"])),
        "eval_interval": int(hyper["eval_interval"]),
        "valid_repeats": int(hyper["eval_samples"]),
        "lr": BASE_LR * hyper["learning_rate_multiplier"],
    }
    if task.max_episode_steps is not None:
        mapped["max_episode_steps"] = task.max_episode_steps
    if task.seed is not None:
        mapped["seed"] = task.seed
    notes = []
    if task.hyperparameters.get("reasoning_effort", "default") != "default":
        notes.append(
            f"reasoning_effort={task.hyperparameters['reasoning_effort']} has no local counterpart"
            " (how long the local model reasons is learned, not set)"
        )
    return GRPOConfig(**(mapped | overrides)), notes
