"""What a task's hosted hyperparameters are on each backend: ``"auto"`` resolved in one place.

A task names its hyperparameters as the hosted fine-tuning API does; any of them may be
``"auto"`` or left out. What "auto" then means differs by backend, and this is the one table:

| hyperparameter | local | trl-modal | openai / azure (assumed) |
|---|---|---|---|
| ``n_epochs`` | 2 | 2 | 1 |
| ``batch_size`` | 8 | 8 | 16 |
| ``compute_multiplier`` | 1 | 1 | 1 |
| ``eval_interval`` | 8 | 8 | 5 |
| ``eval_samples`` | 1 | 1 | 2 |
| ``learning_rate_multiplier`` | 1 | 1 | 1 |

The local column is the local engine's own defaults (``rftkit.local.grpo.GRPOConfig``: 8 tasks a
step, validation every 8 steps, one rollout per validation line). The TRL column is what
``rftkit.trl.hyperparameters`` maps to ``GRPOConfig``. The hosted platforms publish no auto
values: the column is an assumption, taken from OpenAI's own Agent RFT build-hour job
(build-hours ``20-agent-rft``), and the forecast says so in a note wherever it uses one.

How the resolved numbers then become each engine's settings stays with the engine
(``rftkit.local.hyperparameters``, ``rftkit.trl.hyperparameters``, ``rftkit.jobs.forecast``).
This module imports nothing of the engines, so every one of them can read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rftkit.task import HYPERPARAMETERS

NAMES = tuple(name for name in HYPERPARAMETERS if name != "reasoning_effort")
"""The hyperparameters that take ``"auto"`` (``reasoning_effort`` takes ``"default"``)."""

_ENGINE_AUTO: dict[str, float] = {
    "n_epochs": 2,
    "batch_size": 8,
    "compute_multiplier": 1.0,
    "eval_interval": 8,
    "eval_samples": 1,
    "learning_rate_multiplier": 1.0,
}
_HOSTED_ASSUMED: dict[str, float] = {
    "n_epochs": 1,
    "batch_size": 16,
    "compute_multiplier": 1,
    "eval_interval": 5,
    "eval_samples": 2,
    "learning_rate_multiplier": 1.0,
}
AUTO: dict[str, dict[str, float]] = {
    "local": dict(_ENGINE_AUTO),
    "trl-modal": dict(_ENGINE_AUTO),
    "openai": dict(_HOSTED_ASSUMED),
    "azure": dict(_HOSTED_ASSUMED),
}
"""What ``"auto"`` (or leaving a hyperparameter out) means, per backend."""


def resolve(
    hyperparameters: Mapping[str, Any],
    backend: str,
    auto: Mapping[str, float] | None = None,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Every hyperparameter in :data:`NAMES` with ``"auto"`` replaced by ``backend``'s value
    (or by ``auto``, to assume other values), and the names that were auto, in table order."""
    if backend not in AUTO:
        raise ValueError(f"no auto values for backend {backend!r}; known: {', '.join(AUTO)}")
    table = AUTO[backend] if auto is None else auto
    values, left = {}, []
    for name in NAMES:
        value = hyperparameters.get(name, "auto")
        if value == "auto":
            left.append(name)
            value = table[name]
        values[name] = value
    return values, tuple(left)
