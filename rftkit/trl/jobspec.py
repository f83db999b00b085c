"""What a TRL job on Modal runs, besides the task: model, GPUs, vLLM mode, LoRA or full, lengths.

Kept apart from the Modal app so that checks, the forecast and ``describe_job`` read it on a
machine without TRL or a Modal token. The GPU-side ``GRPOConfig`` settings come from the layout
:func:`rftkit.trl.memory.plan` picks (processes, micro-batch, gradient accumulation, vLLM's
share, tensor parallelism, the load dtype), so what preflight approved is what runs.

How to pick another model: any causal LM on the Hugging Face hub whose chat template TRL 1.16
parses tool calls for (its ``trl/chat_templates/`` files: Qwen2.5, Qwen3, Qwen3.5, Llama 3.1/3.2,
gpt-oss, GLM-4-MoE, Gemma 4, LFM2, Nemotron 3, DeepSeek-R1-distill). ``rftkit.trl.gpus.MODELS``
lists some with their architectures, so preflight can tell whether they fit; for another one
the memory check is skipped with a warning (its template is checked when the tokenizer is on
disk).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rftkit.task import RFTTask
from rftkit.trl.gpus import DEFAULT_MODEL, MODELS, parse_gpu
from rftkit.trl.hyperparameters import grpo_settings
from rftkit.trl.memory import (
    LORA_ABOVE_BILLION,
    LORA_ALPHA,
    LORA_LR_FACTOR,
    LORA_RANK,
    LORA_TARGETS,
    VLLM_COLOCATE_SHARE,
    Architecture,
    Plan,
    plan,
)
from rftkit.trl.options import FINETUNES, VLLM_MODES

VLLM_PORT = 8000
MAX_TIMEOUT_HOURS = 24.0
"""Modal's limit on a function's timeout; the train function's default."""
SAVE_EVERY_STEPS = 8
"""Without a validation file, a checkpoint every so many steps (what a preempted job resumes
from); with one, checkpoints follow ``eval_interval``."""
SAVE_TOTAL_LIMIT = 3


@dataclass(frozen=True)
class TRLJobSpec:
    """The backend-only settings of a TRL job (the task holds everything else)."""

    model: str = DEFAULT_MODEL
    gpu: str = "H100"
    vllm_mode: Literal["colocate", "server"] = "colocate"
    finetune: Literal["auto", "full", "lora"] = "auto"
    """``auto``: LoRA above ``LORA_ABOVE_BILLION`` parameters, the full model below."""
    max_prompt_length: int = 2048
    """Tokens of the longest prompt (messages and tool schemas); preflight checks the task's."""
    max_completion_length: int = 4096
    """Tokens of a rollout after its prompt: the model's turns and the tool results."""
    timeout_hours: float = MAX_TIMEOUT_HOURS
    """The train function's timeout: the job stops (checkpointed, ``timed_out``) before it."""
    billion_parameters: float | None = None
    """Only for a model not in ``gpus.MODELS``: its size, shown in the job table."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """``GRPOConfig`` fields that win over everything else."""

    def __post_init__(self) -> None:
        gpu, count = parse_gpu(self.gpu)
        if self.vllm_mode not in VLLM_MODES:
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', not {self.vllm_mode!r}")
        if self.finetune not in FINETUNES:
            raise ValueError(f"finetune must be one of {FINETUNES}, not {self.finetune!r}")
        if self.vllm_mode == "server" and count < 2:
            raise ValueError(
                f"vllm_mode='server' needs two GPUs (one trains, one serves vLLM): gpu="
                f"'{gpu.name}:2', not {self.gpu!r}"
            )
        if not 0 < self.timeout_hours <= MAX_TIMEOUT_HOURS:
            raise ValueError("timeout_hours must be in (0, 24] (Modal's function timeout limit)")
        if self.max_prompt_length < 1 or self.max_completion_length < 1:
            raise ValueError("max_prompt_length and max_completion_length must be positive")

    @property
    def architecture(self) -> Architecture | None:
        known = MODELS.get(self.model)
        return known.architecture if known else None

    @property
    def size(self) -> float | None:
        """The model's size in billions of parameters, when known."""
        arch = self.architecture
        return arch.billion_parameters if arch else self.billion_parameters

    @property
    def method(self) -> Literal["full", "lora"]:
        """``full`` or ``lora``, with ``auto`` decided by the model's size."""
        if self.finetune != "auto":
            return self.finetune
        size = self.size
        return "lora" if size is not None and size > LORA_ABOVE_BILLION else "full"

    @property
    def timeout_seconds(self) -> int:
        return int(self.timeout_hours * 3600)

    def plan(self, task: RFTTask) -> Plan | None:
        """The memory plan for ``task`` (None for a model whose architecture is not known)."""
        arch = self.architecture
        if arch is None:
            return None
        gpu, count = parse_gpu(self.gpu)
        return plan(
            arch,
            gpu,
            count,
            vllm_mode=self.vllm_mode,
            finetune=self.method,
            completions_per_step=completions_per_step(task),
            prompt_tokens=self.max_prompt_length,
            completion_tokens=self.max_completion_length,
        )

    def grpo_overrides(self, task: RFTTask) -> dict[str, Any]:
        """The GPU-side ``GRPOConfig`` settings this spec and its plan imply, then ``overrides``."""
        settings: dict[str, Any] = {
            "use_vllm": True,
            "vllm_mode": self.vllm_mode,
            "bf16": True,
            "max_completion_length": self.max_completion_length,
            "vllm_max_model_length": self.max_prompt_length + self.max_completion_length,
            "model_init_kwargs": {"dtype": "bfloat16" if self.method == "lora" else "float32"},
            "save_total_limit": SAVE_TOTAL_LIMIT,
        }
        if task.validation_file is None:
            settings |= {"save_strategy": "steps", "save_steps": SAVE_EVERY_STEPS}
        if self.method == "lora":
            base, _ = grpo_settings(task)
            settings["learning_rate"] = base["learning_rate"] * LORA_LR_FACTOR
        layout = self.plan(task)
        if layout is not None and layout.fits:
            settings |= {
                "per_device_train_batch_size": layout.micro_batch,
                "gradient_accumulation_steps": layout.gradient_accumulation,
            }
        if self.vllm_mode == "server":
            settings["vllm_server_base_url"] = f"http://127.0.0.1:{VLLM_PORT}"
        else:
            settings["vllm_gpu_memory_utilization"] = VLLM_COLOCATE_SHARE
            settings["vllm_tensor_parallel_size"] = layout.vllm_tensor_parallel if layout else 1
        return settings | self.overrides

    def lora_settings(self) -> dict[str, Any] | None:
        """``peft.LoraConfig`` keyword arguments, or None for full fine-tuning."""
        if self.method != "lora":
            return None
        return {
            "r": LORA_RANK,
            "lora_alpha": LORA_ALPHA,
            "target_modules": LORA_TARGETS,
            "lora_dropout": 0.0,
            "task_type": "CAUSAL_LM",
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def completions_per_step(task: RFTTask) -> int:
    """The hosted batch: lines per step × the group (completions per optimizer step)."""
    settings, _ = grpo_settings(task)
    return settings["per_device_train_batch_size"] * settings.get("gradient_accumulation_steps", 1)


def planned_steps(task: RFTTask, spec: TRLJobSpec) -> int:
    """Optimizer steps the job will take: ``max_steps`` if overridden, else epochs × batches."""
    settings, _ = grpo_settings(task, spec.overrides)
    if settings.get("max_steps", -1) > 0:
        return int(settings["max_steps"])
    lines_per_step = completions_per_step(task) // settings["num_generations"]
    lines = len(task.items("train"))
    return max(1, math.ceil(settings["num_train_epochs"] * lines / lines_per_step))
