"""Modal GPUs: memory, price, and whether a model's GRPO run fits (small tables with sources).

Prices are Modal's published per-second GPU rates (https://modal.com/pricing), as quoted from
that page by techbytes.app's "Serverless GPU Pricing Matrix" (prices verified 2026-05-07; the H100
rate also by beam.cloud's "Modal Pricing Explained", verified 2026-06-27). They are list prices
for the GPU alone: Modal bills the container's CPU and memory on top, and region or
non-preemptible multipliers change them. Re-check the page before trusting a forecast.

Memory needs are an estimate, stated as a rule so it can be checked: full fine-tuning in bf16
(TRL 1.16 loads the model in its checkpoint's dtype, bf16 for the models below) keeps weights,
gradients and AdamW's two moments at 2 bytes each, 8 bytes per parameter; colocated vLLM takes
``vllm_gpu_memory_utilization`` (TRL's default 0.3) of the GPU for its weights and KV cache; 20 %
of the training share is left for activations. In server mode vLLM has its own GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_SOURCE = (
    "Modal's published GPU prices (modal.com/pricing), as quoted by techbytes.app on 2026-05-07"
    " (H100 also by beam.cloud on 2026-06-27); GPU only, CPU and memory billed on top"
)
PRICE_DATE = "2026-05-07"
TRAIN_BYTES_PER_PARAMETER = 8
VLLM_COLOCATE_SHARE = 0.3
ACTIVATION_HEADROOM = 0.2


@dataclass(frozen=True)
class GPU:
    """One Modal GPU type: its name in ``gpu=...``, memory and list price."""

    name: str
    memory_gb: int
    usd_per_hour: float


GPUS = {
    gpu.name: gpu
    for gpu in (
        GPU("H100", 80, 3.9492),
        GPU("A100-80GB", 80, 2.4984),
        GPU("L40S", 48, 1.9512),
        GPU("L4", 24, 0.7992),
        GPU("T4", 16, 0.5904),
    )
}


@dataclass(frozen=True)
class OpenModel:
    """An open model with tool calling whose chat template TRL 1.16 parses tool calls for."""

    name: str
    billion_parameters: float
    template: str  # the file under trl/chat_templates/ that matches its chat template
    vllm_tool_parser: str  # vLLM's --tool-call-parser for serving it


MODELS = {
    model.name: model
    for model in (
        OpenModel("Qwen/Qwen3-4B-Instruct-2507", 4.0, "qwen3_instruct_2507.jinja", "hermes"),
        OpenModel("Qwen/Qwen3-1.7B", 1.7, "qwen3.jinja", "hermes"),
        OpenModel("Qwen/Qwen3-8B", 8.2, "qwen3.jinja", "hermes"),
        OpenModel("Qwen/Qwen2.5-7B-Instruct", 7.6, "qwen2_5.jinja", "hermes"),
        OpenModel("Qwen/Qwen2.5-3B-Instruct", 3.1, "qwen2_5.jinja", "hermes"),
        OpenModel("meta-llama/Llama-3.2-3B-Instruct", 3.2, "llama3_2.jinja", "llama3_json"),
    )
}
DEFAULT_MODEL = "Qwen/Qwen3-4B-Instruct-2507"
"""Tool calling, no thinking segment (so earlier turns' text is never dropped from the prefix),
and a GRPO run with colocated vLLM fits one H100 by the rule above."""


def parse_gpu(spec: str) -> tuple[GPU, int]:
    """``"H100"`` or ``"H100:2"`` as (GPU, count); a clear error for unknown types."""
    name, _, count = spec.partition(":")
    if name not in GPUS:
        raise ValueError(f"GPU {name!r} is not in the table; known: {', '.join(GPUS)}")
    if count and (not count.isdigit() or int(count) < 1):
        raise ValueError(f"GPU count in {spec!r} must be a positive whole number")
    return GPUS[name], int(count or 1)


def training_memory_gb(billion_parameters: float, gpu: GPU, vllm_mode: str) -> float:
    """Estimated GB the training GPU needs (see the module docstring for the rule)."""
    train = billion_parameters * TRAIN_BYTES_PER_PARAMETER * (1 + ACTIVATION_HEADROOM)
    vllm = VLLM_COLOCATE_SHARE * gpu.memory_gb if vllm_mode == "colocate" else 0.0
    return train + vllm
