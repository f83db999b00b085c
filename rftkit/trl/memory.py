"""Whether a GRPO job fits its GPUs, and the layout that makes it fit: a rule, stated so it can be
checked against TRL 1.16's own behaviour and against published figures.

Everything is per GPU, in GB (10^9 bytes), for the layout :func:`plan` picks.

**Training state** (TRL loads the model in fp32 unless ``model_init_kwargs`` names a dtype; the
plan always names one):

- full fine-tuning: fp32 weights, fp32 gradients and AdamW's two fp32 moments, 16 bytes per
  parameter (``dtype=float32`` with ``bf16=True`` autocast: at TRL's learning rate of 1e-6 a bf16
  weight would drop most updates, since bf16 resolves 1 part in 256). Above one training process
  the state is sharded by FSDP2 (``FULL_SHARD``), so each GPU holds 16 / processes bytes, plus one
  layer gathered for compute;
- LoRA (peft): the frozen base in bf16 (``dtype=bfloat16``, 2 bytes per parameter) and the
  adapters at 16 bytes per adapter parameter; sharded by FSDP2 the same way above one process.

**Activations** with gradient checkpointing (TRL's default): each layer's input is kept, 2 bytes ×
hidden size per token per layer, plus one layer recomputed at a time, 2 × (6 × hidden + 4 ×
intermediate) bytes per token. **Logits**: TRL computes them over the completion tokens only; the
bf16 logits and their gradient are 4 bytes × vocabulary per token. A micro-batch of ``m``
completions holds ``m`` × (prompt + completion) tokens of activations and ``m`` × completion
tokens of logits; the plan picks the largest power-of-two ``m`` that fits, and the hosted batch
(lines × group completions per optimizer step) becomes ``per_device_train_batch_size = m`` ×
``gradient_accumulation_steps`` × processes.

**vLLM**: colocated, it takes ``vllm_gpu_memory_utilization`` of each training GPU (TRL's default
0.3) for bf16 weights (split over ``vllm_tensor_parallel_size`` GPUs), ~2 GB of its own buffers
and the KV cache: 2 (K and V) × layers × KV heads × head size × 2 bytes per token.
``vllm_max_model_length`` is set to prompt + completion: left unset, vLLM takes the model's whole
context (262,144 tokens for Qwen3-4B-Instruct-2507, 38.7 GB of KV cache for one sequence) and
refuses to start. The KV cache must hold one sequence of that length; if it holds fewer than the
step's rollouts at once, vLLM queues them (slower, not wrong). In server mode vLLM gets its own
GPUs (0.9 of each, tensor-parallel) and the training GPUs keep all their memory.

**Headroom**: 3 GB per GPU for the CUDA context and NCCL, and 10 % of the rest for allocator
fragmentation. These figures are derived, never measured on a GPU here; a first run's
``torch.cuda.max_memory_allocated`` is the test of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rftkit.trl.gpus import GPU

GB = 1e9
FULL_BYTES_PER_PARAMETER = 16
LORA_BASE_BYTES_PER_PARAMETER = 2
ADAPTER_BYTES_PER_PARAMETER = 16
LOGIT_BYTES_PER_ENTRY = 4
VLLM_COLOCATE_SHARE = 0.3
VLLM_SERVER_SHARE = 0.9
VLLM_BUFFERS_GB = 2.0
CUDA_CONTEXT_GB = 3.0
FRAGMENTATION = 0.10
LORA_RANK = 16
LORA_ALPHA = 32
LORA_TARGETS = "all-linear"
LORA_ABOVE_BILLION = 3.0
"""``finetune="auto"`` trains LoRA adapters above this size and the full model below it. By the
rule above, full fine-tuning with colocated vLLM stops fitting one 80 GB GPU between Qwen3-1.7B
and Qwen3-4B; and for policy-gradient RL, which carries little information per episode, low-rank
adapters have been reported to match full fine-tuning (Thinking Machines, "LoRA Without Regret",
2025-09-29), at about ten times the full fine-tuning learning rate (:data:`LORA_LR_FACTOR`)."""
LORA_LR_FACTOR = 10.0


@dataclass(frozen=True)
class Architecture:
    """What the memory rule needs of a decoder-only transformer (from its ``config.json``)."""

    billion_parameters: float
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int

    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2

    def lora_parameters(self, rank: int = LORA_RANK) -> int:
        """Adapter parameters with ``rank`` on every linear layer of every block."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        shapes = [
            (self.hidden, q),
            (self.hidden, kv),
            (self.hidden, kv),
            (q, self.hidden),
            (self.hidden, self.intermediate),
            (self.hidden, self.intermediate),
            (self.intermediate, self.hidden),
        ]
        return self.layers * rank * sum(a + b for a, b in shapes)


Finetune = Literal["full", "lora"]
VLLMMode = Literal["colocate", "server"]


@dataclass
class Plan:
    """The layout a job runs with and what it needs on each GPU (GB)."""

    gpu: GPU
    gpus: int
    vllm_mode: VLLMMode
    finetune: Finetune
    train_processes: int
    vllm_gpus: int
    vllm_tensor_parallel: int
    completions_per_step: int
    max_model_length: int
    micro_batch: int = 0
    gradient_accumulation: int = 0
    train_gb: dict[str, float] = field(default_factory=dict)
    vllm_gb: dict[str, float] = field(default_factory=dict)
    kv_sequences: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.problems

    @property
    def train_total_gb(self) -> float:
        return sum(self.train_gb.values())

    @property
    def vllm_total_gb(self) -> float:
        return sum(self.vllm_gb.values())

    def summary(self) -> str:
        layout = f"{self.train_processes} training process(es)"
        if self.vllm_mode == "server":
            layout += f" + vLLM server on {self.vllm_gpus} GPU(s) (TP {self.vllm_tensor_parallel})"
        else:
            layout += f" with colocated vLLM (TP {self.vllm_tensor_parallel})"
        memory = (
            f"training ~{self.train_total_gb:.0f} GB of {self.train_budget_gb():.0f} GB usable"
            f" (micro-batch {self.micro_batch or 1}), vLLM ~{self.vllm_total_gb:.0f} GB"
        )
        return f"{self.finetune}, {layout}; {memory}; KV cache holds {self.kv_sequences} seqs"

    def train_budget_gb(self) -> float:
        share = self.gpu.memory_gb * (1 - VLLM_COLOCATE_SHARE * (self.vllm_mode == "colocate"))
        return (share - CUDA_CONTEXT_GB) * (1 - FRAGMENTATION)


def _pow2_divisors(n: int) -> list[int]:
    return [d for d in (2**i for i in range(12)) if d <= n and n % d == 0]


def _vllm_fits(arch: Architecture, tp: int, share_gb: float, max_len: int) -> tuple[float, int]:
    """(GB left for the KV cache, sequences of ``max_len`` it holds) for vLLM on ``tp`` GPUs."""
    weights = arch.billion_parameters * 2 / tp
    free = share_gb - weights - VLLM_BUFFERS_GB
    per_sequence = arch.kv_bytes_per_token() * max_len / tp / GB
    return free, max(0, math.floor(free / per_sequence)) if free > 0 else 0


def plan(
    arch: Architecture,
    gpu: GPU,
    gpus: int,
    *,
    vllm_mode: VLLMMode,
    finetune: Finetune,
    completions_per_step: int,
    prompt_tokens: int,
    completion_tokens: int,
) -> Plan:
    """The layout for a job and its memory, or the reasons it cannot fit (``problems``)."""
    max_len = prompt_tokens + completion_tokens
    vllm_gpus, train = 0, gpus
    share = gpu.memory_gb * (VLLM_COLOCATE_SHARE if vllm_mode == "colocate" else VLLM_SERVER_SHARE)
    if vllm_mode == "server":
        # the fewest vLLM GPUs that hold the weights and one sequence, leaving training a
        # process count that divides the step's completions
        for k in _pow2_divisors(gpus):
            if k < gpus and completions_per_step % (gpus - k) == 0:
                vllm_gpus, train = k, gpus - k
                if _vllm_fits(arch, k, share, max_len)[1] >= 1:
                    break
    tp_choices = [vllm_gpus] if vllm_mode == "server" else _pow2_divisors(gpus)
    tp = tp_choices[0] if tp_choices else 1
    for tp in tp_choices:
        if _vllm_fits(arch, tp, share, max_len)[1] >= 1:
            break
    result = Plan(
        gpu, gpus, vllm_mode, finetune, train, vllm_gpus, tp, completions_per_step, max_len
    )
    if vllm_mode == "server" and vllm_gpus == 0:
        result.problems.append("server mode needs at least two GPUs: one trains, one serves vLLM")
        return result
    free, sequences = _vllm_fits(arch, tp, share, max_len)
    per_sequence = arch.kv_bytes_per_token() * max_len / tp / GB
    result.kv_sequences = sequences
    result.vllm_gb = {
        "weights (bf16)": arch.billion_parameters * 2 / tp,
        "buffers": VLLM_BUFFERS_GB,
        "kv cache": max(free, 0.0),
    }
    if sequences < 1:
        result.problems.append(
            f"vLLM's share ({share:.0f} GB per GPU, TP {tp}) cannot hold the bf16 weights "
            f"({arch.billion_parameters * 2 / tp:.1f} GB) and one {max_len}-token sequence "
            f"({per_sequence:.1f} GB of KV cache)"
        )
    if completions_per_step % train:
        result.problems.append(
            f"{completions_per_step} completions per step do not split over {train} processes"
        )
        return result
    result.train_gb = _state_gb(arch, finetune, train)
    budget = result.train_budget_gb() - result.train_total_gb
    per_process = completions_per_step // train
    per_completion = (
        _activation_gb(arch, max_len) + arch.vocab * completion_tokens * LOGIT_BYTES_PER_ENTRY / GB
    )
    fitting = [m for m in _pow2_divisors(per_process) if m * per_completion <= budget]
    if not fitting:
        result.micro_batch = 1
        result.train_gb["micro-batch of 1"] = per_completion
        result.problems.append(
            f"training needs ~{result.train_total_gb:.0f} GB per GPU "
            f"({finetune}, {train} process(es), one {max_len}-token completion per micro-batch);"
            f" {result.train_budget_gb():.0f} GB of the {gpu.memory_gb} GB {gpu.name} is usable"
        )
        return result
    result.micro_batch = max(fitting)
    result.gradient_accumulation = per_process // result.micro_batch
    result.train_gb[f"micro-batch of {result.micro_batch}"] = result.micro_batch * per_completion
    return result


def _state_gb(arch: Architecture, finetune: Finetune, processes: int) -> dict[str, float]:
    billions = arch.billion_parameters
    if finetune == "lora":
        base = billions * LORA_BASE_BYTES_PER_PARAMETER / processes
        adapters = arch.lora_parameters() * ADAPTER_BYTES_PER_PARAMETER / GB / processes
        state = {"base weights (bf16)": base, "adapters (fp32 + AdamW)": adapters}
        gathered = 2 * billions * LORA_BASE_BYTES_PER_PARAMETER / arch.layers
    else:
        state = {"weights, grads, AdamW (fp32)": billions * FULL_BYTES_PER_PARAMETER / processes}
        gathered = 2 * billions * 4 / arch.layers
    if processes > 1:  # FSDP2 gathers one layer for compute and prefetches the next
        state["gathered layers"] = gathered
    return state


def _activation_gb(arch: Architecture, tokens: int) -> float:
    kept = 2 * arch.hidden * arch.layers
    recomputed = 2 * (6 * arch.hidden + 4 * arch.intermediate)
    return tokens * (kept + recomputed) / GB
