"""Keys and values kept across a rollout's turns: only new tokens are encoded, samples unchanged."""

import asyncio
import threading

import pytest
import torch

from rftkit.local.checkpoint import load_model
from rftkit.local.model import KVCache, ModelConfig, TinyLM
from rftkit.local.policy import LocalModelPolicy


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return TinyLM(ModelConfig(64, block_size=256, n_layer=2, n_head=2, n_embd=32)).eval()


def turns(model, prompts, tool_outputs, kept=None):
    """Each prompt through len(tool_outputs) turns of 6 sampled tokens, a tool output after each."""
    streams = [torch.Generator().manual_seed(n) for n in range(len(prompts))]
    sequences = [list(p) for p in prompts]
    for outputs in tool_outputs:
        sampled = model.generate(
            sequences, max_new_tokens=6, stop_ids={3}, generators=streams, kept=kept
        )
        for sequence, turn, output in zip(sequences, sampled, outputs, strict=True):
            sequence += turn + output
    return sequences


def test_kept_keys_and_values_are_those_of_the_whole_sequence(tiny):
    """After two turns each cache holds every token but the last sampled one, and its keys and
    values are the ones a single forward pass over those tokens computes (up to float rounding)."""
    prompts = [[1, 5, 9, 12], [1, 7, 8, 20, 21, 22, 30]]
    kept = [KVCache.empty(), KVCache.empty()]
    sequences = turns(tiny, prompts, [[[40, 41], [42]], [[43, 44, 45], [46, 47]]], kept)
    for sequence, cache, last_output in zip(sequences, kept, (3, 2), strict=True):
        encoded = sequence[: len(sequence) - last_output]  # the last tool output is not, yet
        assert cache.ids == encoded[:-1]
        layers = [{} for _ in tiny.blocks]
        with torch.no_grad():
            tiny(torch.tensor([cache.ids]), caches=layers)
        for (k, v), fresh in zip(cache.layers, layers, strict=True):
            assert k.shape == fresh["k"][0].shape
            torch.testing.assert_close(k, fresh["k"][0], rtol=0, atol=1e-5)
            torch.testing.assert_close(v, fresh["v"][0], rtol=0, atol=1e-5)


def test_a_cached_rollout_samples_the_tokens_a_reencoded_one_does(tiny):
    prompts = [[1, *range(10, 10 + n)] for n in (3, 9, 5, 14)]
    tool_outputs = [[[50 + t] * (t + n) for n in range(4)] for t in range(4)]
    encoded = turns(tiny, prompts, tool_outputs)
    cached = turns(tiny, prompts, tool_outputs, [KVCache.empty() for _ in prompts])
    assert cached == encoded


def test_a_cache_that_does_not_match_the_prompt_is_refused(tiny):
    cache = KVCache.empty()
    tiny.generate([[1, 2, 3]], max_new_tokens=2, stop_ids=set(), kept=[cache])
    with pytest.raises(ValueError, match="prompt 0's start"):
        tiny.generate([[1, 9, 9, 9, 9]], max_new_tokens=2, stop_ids=set(), kept=[cache])


async def rollouts(policy, conversations, turns: int = 4) -> list[list[int]]:
    """Rollouts of each conversation's question, every call answered with the expert's outputs
    in order; the rollout ends at an answer or after ``turns`` turns."""

    async def one(number, conversation):
        outputs = [i["output"] for i in conversation if i.get("type") == "function_call_output"]
        items, trace_id = [conversation[0]], f"trace_{number}"
        for _ in range(turns):
            turn = await policy.next_turn(items, [], trace_id=trace_id)
            if not turn.tool_calls:
                break
            for n, call in enumerate(turn.tool_calls):
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.call_id,
                        "name": call.name,
                        "arguments": call.arguments,
                    }
                )
                output = outputs[n % len(outputs)] if outputs else "no such file"
                items.append(
                    {"type": "function_call_output", "call_id": call.call_id, "output": output}
                )
        return policy.record(trace_id)

    records = await asyncio.gather(*(one(n, c) for n, c in enumerate(conversations)))
    return [r.rendered.ids for r in records], records


def test_the_base_model_samples_the_same_rollouts_with_the_cache(scripted_world):
    """The committed checkpoint, several turns with tool outputs between them, rollouts batched
    together: the same tokens with keys and values kept across turns as when re-encoding."""
    model, tokenizer = load_model()
    _, conversations = scripted_world
    picked = conversations[:6]
    plain = LocalModelPolicy(model, tokenizer, seed=0, cache_across_turns=False)
    cached = LocalModelPolicy(model, tokenizer, seed=0)  # the default keeps them
    expected, _ = asyncio.run(rollouts(plain, picked))
    got, records = asyncio.run(rollouts(cached, picked))
    assert got == expected
    assert sum(len(ids) for ids in got) > 6 * 120  # several turns each, not just the first
    for record in records:  # a finished rollout keeps no keys and values; one still calling does
        finished = record.kept is None
        assert finished or record.kept.ids == record.rendered.ids[: len(record.kept.ids)]
    assert all(r.kept is None for r in plain.records.values())


def test_a_new_rollout_and_a_continued_one_share_a_batch(tiny):
    """A rollout on its first turn (nothing kept) batched with one on its second: each samples
    what it samples when every prompt is re-encoded."""

    def run(kept):
        first = [1, 4, 9, 16, 25]
        streams = [torch.Generator().manual_seed(n) for n in range(2)]
        (turn,) = tiny.generate(
            [first],
            max_new_tokens=5,
            stop_ids=set(),
            generators=streams[:1],
            kept=kept[:1] if kept else None,
        )
        prompts = [first + turn + [40, 41, 42], [1, *range(20, 32)]]
        return tiny.generate(
            prompts, max_new_tokens=7, stop_ids=set(), generators=streams, kept=kept
        )

    kept = [KVCache.empty(), KVCache.empty()]
    cached = run(kept)
    assert len(kept[0].ids) == 5 + 5 + 3 + 6 and len(kept[1].ids) == 13 + 6
    assert cached == run(None)


def test_two_workers_sample_what_one_does(scripted_world):
    """The committed checkpoint, multi-turn rollouts whose batches are split between two
    generation threads (and started while the other still decodes): the same tokens as one."""
    model, tokenizer = load_model()
    _, conversations = scripted_world
    picked = conversations[:8]
    one = LocalModelPolicy(model, tokenizer, seed=0, workers=1)
    two = LocalModelPolicy(model, tokenizer, seed=0, workers=2)
    threads = set()
    generate = two._generate
    two._generate = lambda batch: threads.add(threading.current_thread().name) or generate(batch)
    expected, _ = asyncio.run(rollouts(one, picked))
    got, _ = asyncio.run(rollouts(two, picked))
    assert got == expected
    assert len(threads) == 2  # both workers generated
    with pytest.raises(ValueError, match="workers must be 1 or more"):
        LocalModelPolicy(model, tokenizer, workers=0)
