"""A tiny tool-calling model built offline: a stand-in for a hub model on the CPU.

For the TRL backend's CPU tests and the CPU path of ``benchmarks/gpu_smoke.py``: a byte-level BPE
trained on the task's own prompts, TRL's Qwen2.5 chat template (one TRL parses tool calls for),
and a random two-layer ``Qwen2ForCausalLM`` fitted for a few seconds to open every rollout with
:data:`OPENING_CALL`, so its rollouts reach the tools. It learns nothing else; nothing comes from
a model hub.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
import trl
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from rftkit.trl.environment import task_environment
from rftkit.trl.trainer import task_rows

OPENING_CALL = {"name": "search", "arguments": {"query": "revenue", "top_k": 1}}
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ADDED = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
TEMPLATE = Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja"
"""TRL's own copy of the Qwen2.5 chat template, one TRL parses tool calls for."""


def tiny_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on ``texts``, with TRL's own Qwen2.5 chat template. Merges may
    cross spaces (no pre-splitting), so the long, repeated tool schemas become a few tokens and
    the fit below stays short."""
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=3000,
            show_progress=False,
            special_tokens=SPECIAL + ADDED,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    # the tool-call markers stay whole tokens (same ids) but are not special ones, as in Qwen's
    # own tokenizer: a tokenizer reloaded from disk drops special tokens when TRL decodes
    bpe.add_tokens([AddedToken(token, special=False) for token in ADDED])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL[1:],
        padding_side="left",
    )
    tokenizer.chat_template = TEMPLATE.read_text(encoding="utf-8")
    return tokenizer


def tiny_qwen2(
    tokenizer: PreTrainedTokenizerFast,
    *,
    vocab_size: int | None = None,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    layers: int = 2,
    kv_heads: int = 2,
) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 small enough for a CPU, with ``tokenizer``'s pad and end
    tokens and tied embeddings (the wiring test's model, and the benchmark's at the engine's
    shape); its weights come from torch's global seed."""
    config = Qwen2Config(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(config)


def tiny_model_that_opens_with_a_call(task, env, steps: int = 60):
    """A random 2-layer Qwen2 fitted to open every rollout with ``OPENING_CALL``, on the prompts
    exactly as TRL renders them: the environment's tool methods, in TRL's order."""
    torch.manual_seed(0)
    rows = task_rows(task.items("train") + task.items("validation"), "train")
    environment = task_environment(task, env)()
    methods = [
        getattr(environment, name)
        for name, _ in inspect.getmembers(type(environment), predicate=inspect.isfunction)
        if not name.startswith("_") and name != "reset"
    ]
    tools = [methods] * len(rows)
    opening = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": OPENING_CALL}],
    }
    renderer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE()))
    renderer.chat_template = TEMPLATE.read_text(encoding="utf-8")
    texts = [
        renderer.apply_chat_template(r["prompt"] + [opening], tools=t, tokenize=False)
        for r, t in zip(rows, tools, strict=True)
    ]
    tokenizer = tiny_tokenizer(texts)
    model = tiny_qwen2(tokenizer)
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    labels = batch.input_ids.clone()
    for n, (row, spec) in enumerate(zip(rows, tools, strict=True)):
        prompt = tokenizer.apply_chat_template(
            row["prompt"], tools=spec, tokenize=False, add_generation_prompt=True
        )
        padding = int((batch.attention_mask[n] == 0).sum())
        labels[n, : padding + len(tokenizer(prompt).input_ids)] = -100  # left-padded
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model, tokenizer


def load_tiny_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """The tiny tokenizer saved in ``path``, exactly as saved. ``AutoTokenizer`` (and so TRL,
    given a model directory) would build a ``Qwen2Tokenizer`` from the model's config, whose own
    pre-tokenizer splits text differently from the one this tokenizer was trained with; pass this
    one as the trainer's tokenizer instead."""
    return PreTrainedTokenizerFast.from_pretrained(str(path))
