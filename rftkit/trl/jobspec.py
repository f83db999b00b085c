"""What a TRL job on Modal runs, besides the task: model, GPUs, vLLM mode, generation length.

Kept apart from the Modal app so that checks, the forecast and ``describe_job`` read it on a
machine without TRL or a Modal token.

How to pick another model: any causal LM on the Hugging Face hub whose chat template TRL 1.16
parses tool calls for (its ``trl/chat_templates/`` files: Qwen2.5, Qwen3, Qwen3.5, Llama 3.1/3.2,
gpt-oss, GLM-4-MoE, Gemma 4, LFM2, Nemotron 3, DeepSeek-R1-distill). ``rftkit.trl.gpus.MODELS``
lists a few with their sizes, so preflight can tell whether they fit; for another one pass its
size (``billion_parameters``) and preflight checks its template when the tokenizer is on disk.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rftkit.task import RFTTask
from rftkit.trl.gpus import DEFAULT_MODEL, MODELS, parse_gpu
from rftkit.trl.hyperparameters import AUTO, grpo_settings

VLLM_PORT = 8000


@dataclass(frozen=True)
class TRLJobSpec:
    """The backend-only settings of a TRL job (the task holds everything else)."""

    model: str = DEFAULT_MODEL
    gpu: str = "H100"
    vllm_mode: Literal["colocate", "server"] = "colocate"
    max_completion_length: int = 4096
    timeout_hours: float = 12.0
    billion_parameters: float | None = None
    """Only for a model not in ``gpus.MODELS``: its size, for the memory check."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """``GRPOConfig`` fields that win over everything else."""

    def __post_init__(self) -> None:
        gpu, count = parse_gpu(self.gpu)
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', not {self.vllm_mode!r}")
        if self.vllm_mode == "server" and count < 2:
            raise ValueError(
                f"vllm_mode='server' needs two GPUs (one trains, one serves vLLM): gpu="
                f"'{gpu.name}:2', not {self.gpu!r}"
            )
        if not 0 < self.timeout_hours <= 24:
            raise ValueError("timeout_hours must be in (0, 24] (Modal's function timeout limit)")

    @property
    def size(self) -> float | None:
        """The model's size in billions of parameters, when known."""
        known = MODELS.get(self.model)
        return known.billion_parameters if known else self.billion_parameters

    def grpo_overrides(self) -> dict[str, Any]:
        """The GPU-side ``GRPOConfig`` settings this spec implies, then ``overrides``."""
        settings: dict[str, Any] = {
            "use_vllm": True,
            "vllm_mode": self.vllm_mode,
            "bf16": True,
            "max_completion_length": self.max_completion_length,
        }
        if self.vllm_mode == "server":
            settings["vllm_server_base_url"] = f"http://127.0.0.1:{VLLM_PORT}"
        return settings | self.overrides

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def planned_steps(task: RFTTask, spec: TRLJobSpec) -> int:
    """Optimizer steps the job will take: ``max_steps`` if overridden, else epochs × batches."""
    settings, _ = grpo_settings(task, spec.grpo_overrides())
    if settings.get("max_steps", -1) > 0:
        return int(settings["max_steps"])
    lines = len(task.items("train"))
    per_step = settings["per_device_train_batch_size"] // settings["num_generations"]
    value = task.hyperparameters.get("n_epochs", "auto")
    epochs = AUTO["n_epochs"] if value == "auto" else value
    return max(1, math.ceil(epochs * lines / per_step))
