"""Open-weights Agent RFT: the task trained by Hugging Face TRL's GRPOTrainer on Modal GPUs.

The kit is the adapter, the launcher and the checks; TRL (with accelerate and vLLM) is the
engine. One concept per module:

- ``toolmethods``: the task's tool specs as Python methods TRL derives exactly those schemas from;
- ``environment``: the ``environment_factory`` class (one instance per rollout, wire-format calls);
- ``rewards``: the task's grader config as TRL's reward function (discarded rollouts get None);
- ``metrics``: a ``TrainerCallback`` writing the kit's ``fine_tuning.job.event`` layout;
- ``hyperparameters``: the hosted hyperparameters -> ``GRPOConfig`` table;
- ``trainer``: all of the above assembled into a ``GRPOTrainer``;
- ``gpus``, ``jobspec``, ``preflight``, ``describe``: what runs where, whether it fits, its cost;
- ``modal_app``: the Modal app (train, serve); ``backend``: the ``trl-modal`` jobs backend;
- ``evaluate``: a served checkpoint's baseline, like any hosted model's.

TRL, transformers, accelerate and datasets come with the ``trl`` extra; ``describe_job`` and the
checks need none of them.
"""

from __future__ import annotations

from typing import Any


def describe_job(task: Any, spec: Any = None, seconds_per_step: float | None = None) -> Any:
    """The exact Modal job ``task`` would start and its forecast, as a table (offline)."""
    from rftkit.trl.describe import describe_job as describe

    return describe(task, spec, seconds_per_step)


__all__ = ["describe_job"]
