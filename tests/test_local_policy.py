"""The local policy samples each rollout from its own random stream (reproducible runs)."""

import asyncio

import pytest
import torch

from rftkit.local.model import ModelConfig, TinyLM
from rftkit.local.policy import LocalModelPolicy


@pytest.fixture(scope="module")
def tiny(scripted_world):
    tokenizer, conversations = scripted_world
    torch.manual_seed(0)
    config = ModelConfig(len(tokenizer), block_size=256, n_layer=2, n_head=2, n_embd=32)
    prompts = [[conversation[0]] for conversation in conversations[:3]]
    return TinyLM(config).eval(), tokenizer, prompts


def first_turns(tiny, *, concurrently: bool, seed: int = 0) -> list[list[int]]:
    """Two rollouts of each prompt, all at once (one batch) or one after another."""
    model, tokenizer, prompts = tiny
    policy = LocalModelPolicy(model, tokenizer, temperature=1.0, seed=seed, max_turn_tokens=24)
    rollouts = [(f"trace_{n}", prompt) for n, prompt in enumerate(prompts * 2)]

    async def run() -> None:
        turns = [policy.next_turn(p, [], trace_id=trace_id) for trace_id, p in rollouts]
        if concurrently:
            await asyncio.gather(*turns)
        else:
            for turn in turns:
                await turn

    asyncio.run(run())
    return [policy.record(trace_id).rendered.ids for trace_id, _ in rollouts]


def test_a_rollouts_sample_does_not_depend_on_its_batch(tiny):
    together = first_turns(tiny, concurrently=True)
    alone = first_turns(tiny, concurrently=False)
    assert together == alone
    prompts = len(tiny[2])
    assert together[0] != together[prompts]  # a question's second rollout has its own stream


def test_another_seed_samples_other_tokens(tiny):
    assert first_turns(tiny, concurrently=True) != first_turns(tiny, concurrently=True, seed=1)
