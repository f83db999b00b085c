"""Modal GPUs and open models: memory, price, architecture (small tables with sources).

Prices are Modal's published per-second GPU rates (https://modal.com/pricing): H100, A100-80GB,
L40S, L4 and T4 as quoted from that page by techbytes.app's "Serverless GPU Pricing Matrix"
(verified 2026-05-07; H100 also by beam.cloud, 2026-06-27); H200 ($0.001261/s) and B200
($0.001736/s) as public projects quote the same page (one read it 2026-09-22). They are list
prices for the GPU alone: Modal bills the container's CPU and memory on top, and region or
non-preemptible multipliers change them. Re-check the page before trusting a forecast.

Memory is NVIDIA's published capacity per GPU (B200: the 180 GB of an HGX/DGX B200 board).
Whether a job fits is :mod:`rftkit.trl.memory`'s rule; the architectures below are the models'
``config.json`` values on the Hugging Face hub, and ``tests/test_trl_memory.py`` checks that each
gives the parameter count its model card states.
"""

from __future__ import annotations

from dataclasses import dataclass

from rftkit.trl.memory import Architecture

PRICE_SOURCE = (
    "Modal's published GPU prices (modal.com/pricing), as quoted by techbytes.app on 2026-05-07"
    " (H100 also by beam.cloud on 2026-06-27; H200, B200 as public projects quote the page on"
    " 2026-09-22); GPU only, CPU and memory billed on top"
)
PRICE_DATE = "2026-05-07"


@dataclass(frozen=True)
class GPU:
    """One Modal GPU type: its name in ``gpu=...``, memory and list price."""

    name: str
    memory_gb: int
    usd_per_hour: float


GPUS = {
    gpu.name: gpu
    for gpu in (
        GPU("B200", 180, 6.2496),
        GPU("H200", 141, 4.5396),
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
    architecture: Architecture
    template: str  # the file under trl/chat_templates/ that matches its chat template
    vllm_tool_parser: str  # vLLM's --tool-call-parser for serving it
    context: int  # max_position_embeddings: what vLLM takes when vllm_max_model_length is unset

    @property
    def billion_parameters(self) -> float:
        return self.architecture.billion_parameters


#                     params  layers hidden interm. heads kv head vocab
QWEN3_0_6B = Architecture(0.60, 28, 1024, 3072, 16, 8, 128, 151936)
QWEN3_1_7B = Architecture(1.72, 28, 2048, 6144, 16, 8, 128, 151936)
QWEN3_4B = Architecture(4.02, 36, 2560, 9728, 32, 8, 128, 151936)
QWEN3_8B = Architecture(8.19, 36, 4096, 12288, 32, 8, 128, 151936)
QWEN3_32B = Architecture(32.76, 64, 5120, 25600, 64, 8, 128, 151936)
QWEN2_5_3B = Architecture(3.09, 36, 2048, 11008, 16, 2, 128, 151936)
QWEN2_5_7B = Architecture(7.62, 28, 3584, 18944, 28, 4, 128, 152064)
LLAMA3_2_3B = Architecture(3.21, 28, 3072, 8192, 24, 8, 128, 128256)

MODELS = {
    model.name: model
    for model in (
        OpenModel(
            "Qwen/Qwen3-4B-Instruct-2507", QWEN3_4B, "qwen3_instruct_2507.jinja", "hermes", 262144
        ),
        OpenModel("Qwen/Qwen3-0.6B", QWEN3_0_6B, "qwen3.jinja", "hermes", 40960),
        OpenModel("Qwen/Qwen3-1.7B", QWEN3_1_7B, "qwen3.jinja", "hermes", 40960),
        OpenModel("Qwen/Qwen3-4B", QWEN3_4B, "qwen3.jinja", "hermes", 40960),
        OpenModel("Qwen/Qwen3-8B", QWEN3_8B, "qwen3.jinja", "hermes", 40960),
        OpenModel("Qwen/Qwen3-32B", QWEN3_32B, "qwen3.jinja", "hermes", 40960),
        OpenModel("Qwen/Qwen2.5-7B-Instruct", QWEN2_5_7B, "qwen2_5.jinja", "hermes", 32768),
        OpenModel("Qwen/Qwen2.5-3B-Instruct", QWEN2_5_3B, "qwen2_5.jinja", "hermes", 32768),
        OpenModel(
            "meta-llama/Llama-3.2-3B-Instruct", LLAMA3_2_3B, "llama3_2.jinja", "llama3_json", 131072
        ),
    )
}
DEFAULT_MODEL = "Qwen/Qwen3-4B-Instruct-2507"
"""Tool calling, no thinking segment (so earlier turns' text is never dropped from the prefix);
LoRA on one H100 with colocated vLLM fits by the memory rule."""


MAX_GPUS = 8
"""Modal attaches at most 8 GPUs to one container, all on the same machine."""


def parse_gpu(spec: str) -> tuple[GPU, int]:
    """``"H100"`` or ``"H100:2"`` as (GPU, count); a clear error for unknown types or counts."""
    name, _, count = str(spec).partition(":")
    if name not in GPUS:
        raise ValueError(f"GPU {name!r} is not in the table; known: {', '.join(GPUS)}")
    if count and (not count.isdigit() or not 1 <= int(count) <= MAX_GPUS):
        raise ValueError(f"GPU count in {spec!r} must be a whole number from 1 to {MAX_GPUS}")
    return GPUS[name], int(count or 1)
