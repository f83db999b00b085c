"""The TRL memory rule against published figures, the models' own parameter counts, and TRL.

Published figures used: ZeRO (Rajbhandari et al., 2020, Fig. 1): a 7.5B-parameter model under
mixed-precision Adam holds 16 bytes per parameter, 120 GB, and 1.9 GB per GPU sharded 64 ways;
vLLM (Kwon et al., SOSP 2023, section 3): a 13B model with 40 layers and hidden size 5120 needs
800 KB of KV cache per token (2 × 5120 × 40 × 2 bytes), up to 1.6 GB for a 2,048-token request.
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)
from trl import GRPOConfig

from rftkit.course.task import CourseTaskSize, write_course_task
from rftkit.trl.describe import fit_table
from rftkit.trl.gpus import GPUS, MODELS
from rftkit.trl.jobspec import TRLJobSpec, completions_per_step
from rftkit.trl.memory import GB, Architecture, _state_gb, plan

CARD_BILLIONS = {  # "Number of Parameters" on each model card
    "Qwen/Qwen3-0.6B": 0.6,
    "Qwen/Qwen3-1.7B": 1.7,
    "Qwen/Qwen3-4B": 4.0,
    "Qwen/Qwen3-8B": 8.2,
    "Qwen/Qwen3-32B": 32.8,
    "Qwen/Qwen2.5-7B-Instruct": 7.61,
    "Qwen/Qwen2.5-3B-Instruct": 3.09,
    "meta-llama/Llama-3.2-3B-Instruct": 3.21,
}


def test_full_fine_tuning_state_is_zeros_sixteen_bytes_per_parameter():
    arch = Architecture(7.5, 32, 4096, 11008, 32, 32, 128, 32000)
    assert sum(_state_gb(arch, "full", 1).values()) == pytest.approx(120)
    sharded = _state_gb(arch, "full", 64)["weights, grads, AdamW (fp32)"]
    assert sharded == pytest.approx(1.9, abs=0.05)


def test_kv_cache_per_token_is_the_vllm_papers():
    thirteen_b = Architecture(13.0, 40, 5120, 13824, 40, 40, 128, 32000)
    assert thirteen_b.kv_bytes_per_token() == 800 * 1024
    assert thirteen_b.kv_bytes_per_token() * 2048 / GB == pytest.approx(1.6, abs=0.1)


def test_bf16_master_weights_would_drop_trls_updates():
    """Why full fine-tuning loads fp32: at learning rate 1e-6 a bf16 weight does not move."""
    weight = torch.tensor(1.0, dtype=torch.bfloat16)
    assert weight + torch.tensor(1e-6, dtype=torch.bfloat16) == weight
    assert torch.tensor(1.0) + 1e-6 != torch.tensor(1.0)


def _meta_model(name: str, arch: Architecture):
    config, model = {
        "Qwen3": (Qwen3Config, Qwen3ForCausalLM),
        "Qwen2": (Qwen2Config, Qwen2ForCausalLM),
        "Llama": (LlamaConfig, LlamaForCausalLM),
    }[next(k for k in ("Qwen3", "Qwen2", "Llama") if k in name)]
    with torch.device("meta"):
        return model(
            config(
                vocab_size=arch.vocab,
                hidden_size=arch.hidden,
                intermediate_size=arch.intermediate,
                num_hidden_layers=arch.layers,
                num_attention_heads=arch.heads,
                num_key_value_heads=arch.kv_heads,
                head_dim=arch.head_dim,
                tie_word_embeddings=arch.billion_parameters < 5,
            )
        )


@pytest.mark.parametrize("name", list(CARD_BILLIONS))
def test_each_architecture_gives_its_model_cards_size_and_peft_its_adapter_count(name):
    """transformers builds the model from the table's values (on the meta device, no memory):
    its parameter count is the card's, and peft's LoRA count is the rule's."""
    arch = MODELS[name].architecture
    model = _meta_model(name, arch)
    counted = sum(p.numel() for p in model.parameters()) / 1e9
    assert counted == pytest.approx(CARD_BILLIONS[name], abs=0.05)
    assert counted == pytest.approx(arch.billion_parameters, abs=0.01)
    lora = get_peft_model(model, LoraConfig(r=16, target_modules="all-linear"))
    assert sum(p.numel() for p in lora.parameters() if p.requires_grad) == arch.lora_parameters()


def test_the_issues_cases_are_refused():
    h100 = GPUS["H100"]
    four, eight = MODELS["Qwen/Qwen3-4B"].architecture, MODELS["Qwen/Qwen3-8B"].architecture
    common = {"completions_per_step": 64, "prompt_tokens": 2048, "completion_tokens": 4096}
    full_4b = plan(four, h100, 1, vllm_mode="colocate", finetune="full", **common)
    assert not full_4b.fits and full_4b.train_gb["weights, grads, AdamW (fp32)"] > 64
    full_8b = plan(eight, h100, 2, vllm_mode="server", finetune="full", **common)
    assert not full_8b.fits and full_8b.train_total_gb > 131
    # the 262,144-token context of Qwen3-4B-Instruct-2507 alone is 38.7 GB of KV cache
    instruct = MODELS["Qwen/Qwen3-4B-Instruct-2507"]
    assert instruct.architecture.kv_bytes_per_token() * instruct.context / GB == pytest.approx(
        38.7, abs=0.1
    )
    whole_context = plan(
        four, h100, 1, vllm_mode="colocate", finetune="lora", completions_per_step=64,
        prompt_tokens=instruct.context - 4096, completion_tokens=4096,
    )  # fmt: skip
    assert any("vLLM's share" in p for p in whole_context.problems)
    # 64 completions of 4,096 tokens of logits in one micro-batch: ~80 GB in bf16 alone
    assert pytest.approx(79.7, abs=0.1) == 64 * 4096 * 151936 * 2 / GB
    lora_4b = plan(four, h100, 1, vllm_mode="colocate", finetune="lora", **common)
    assert lora_4b.fits and lora_4b.micro_batch < 64


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    size = CourseTaskSize(train_worlds=1, train_per_world=4, valid_worlds=1, valid_per_world=2)
    return write_course_task(root, "https://ws--rftkit-tools.modal.run", size)


@pytest.mark.parametrize(
    "spec",
    [
        TRLJobSpec(),
        TRLJobSpec(model="Qwen/Qwen3-1.7B"),
        TRLJobSpec(model="Qwen/Qwen3-8B", gpu="H100:8"),
        TRLJobSpec(model="Qwen/Qwen3-4B", gpu="H100:2", vllm_mode="server", finetune="full"),
    ],
)
def test_the_hosted_batch_maps_to_micro_batch_accumulation_and_processes(course, spec, tmp_path):
    settings = spec.grpo_overrides(course)
    layout = spec.plan(course)
    assert layout is not None and layout.fits, layout.problems
    per_step = completions_per_step(course)
    assert per_step == 64  # the course's 8 lines x a group of 8
    micro, accumulation = (
        settings["per_device_train_batch_size"],
        settings["gradient_accumulation_steps"],
    )
    assert micro * accumulation * layout.train_processes == per_step
    assert settings["vllm_max_model_length"] == 2048 + 4096
    dtype = settings["model_init_kwargs"]["dtype"]
    assert dtype == ("bfloat16" if spec.method == "lora" else "float32")
    assert (spec.lora_settings() is not None) == (spec.method == "lora")
    # TRL accepts the mapping (the GPU-only parts left out on this CPU machine)
    cpu = {k: v for k, v in settings.items() if not k.startswith("vllm") and k != "use_vllm"}
    args = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, **(cpu | {"bf16": False, "num_generations": 8})
    )
    assert args.generation_batch_size == micro * accumulation  # one process here
    assert args.steps_per_generation == accumulation


def test_the_fit_table_is_the_rules(capsys):
    table = fit_table()
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert set(rows) == {"Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B", "Qwen3-32B"}
    cells = rows["Qwen3-4B"].strip("|").split(" | ")
    assert cells[2].startswith("no") and cells[3].startswith("yes")  # 1 x H100: full, LoRA
    assert rows["Qwen3-32B"].strip(" |").split(" | ")[-1].startswith("yes")  # LoRA on 8 x H100
