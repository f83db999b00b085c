"""The local engine's tokenizer, model and training masks (tiny configs: seconds, not minutes)."""

import json

import pytest
import torch

from rftkit.local.batches import batch_tensors, length_buckets
from rftkit.local.model import ModelConfig, TinyLM, masked_mean, sequence_logprobs
from rftkit.local.tokenizer import (
    N_SLOTS,
    SlotTable,
    Tokenizer,
    parse_turn,
    pieces,
    render,
)

QUESTION = "What was the revenue of Norvale Systems Group in 2025-Q1 (USD millions)?"
OUTPUT = (
    "norvale-systems-group 2025-Q1 revenue 1234.5\nnorvale-systems-group 2025-Q1 net_income -12.3\n"
)
CONVERSATION = [
    {"role": "user", "content": QUESTION},
    {
        "type": "function_call",
        "call_id": "c1",
        "name": "read_file",
        "arguments": json.dumps({"path": "reports/norvale-systems-group/2025-Q1.md"}),
    },
    {"type": "function_call_output", "call_id": "c1", "output": OUTPUT},
    {"role": "assistant", "content": "1234.5"},
]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [QUESTION, OUTPUT, "read_file", CONVERSATION[1]["arguments"]]
    return Tokenizer.build(texts, exclude={"Norvale"})


def test_pieces_join_back_to_the_text():
    for text in (QUESTION, OUTPUT, CONVERSATION[1]["arguments"], "round((5 - -3.5) * 100 / 2, 1)"):
        assert "".join(pieces(text)) == text


def test_round_trip_and_figures_become_slots(tokenizer):
    slots = SlotTable()
    for text in (QUESTION, OUTPUT, CONVERSATION[1]["arguments"]):
        assert tokenizer.decode(tokenizer.encode(text, slots), slots) == text
    assert slots.strings == ["norvale", "1234.5", "12.3"]  # figures lose their sign to '-'
    assert "norvale" not in tokenizer.index and "2025-Q1" in tokenizer.index


def test_a_name_and_its_slug_share_one_slot(tokenizer):
    slots = SlotTable()
    name = tokenizer.encode("Norvale", slots)
    slug = tokenizer.encode("norvale", slots)
    assert name == [tokenizer.id("<cap>"), slug[0]] and tokenizer.is_slot(slug[0])


def test_unseen_identifiers_reuse_the_same_slots(tokenizer):
    first, second = SlotTable(), SlotTable()
    a = tokenizer.encode("Quinobury 4391.2", first)
    b = tokenizer.encode("Zelmont 88.8", second)
    assert a == b and first.strings != second.strings


def test_slots_run_out_into_unk(tokenizer):
    slots = SlotTable()
    ids = tokenizer.encode(" ".join(str(1000 + n) for n in range(N_SLOTS + 2)), slots)
    assert ids.count(tokenizer.id("<unk>")) == 2 and len(slots.strings) == N_SLOTS


def test_state_dict_round_trip(tokenizer):
    again = Tokenizer.from_state_dict(tokenizer.state_dict())
    assert again.vocab == tokenizer.vocab


def test_only_the_models_own_tokens_are_trained(tokenizer):
    out = render(tokenizer, CONVERSATION)
    words = [tokenizer.vocab[i] for i, t in zip(out.ids, out.trained, strict=True) if t]
    assert words[0] == "<call>" and words[-2:] == [words[-2], "<eot>"]
    output_ids = set(tokenizer.encode(OUTPUT, SlotTable(list(out.slots.strings))))
    trained_ids = {i for i, t in zip(out.ids, out.trained, strict=True) if t}
    assert tokenizer.id("<out>") not in trained_ids and tokenizer.id("<eoo>") not in trained_ids
    assert tokenizer.vocab.index("net_income") in output_ids - trained_ids
    # a tool output token never carries the trained flag
    start = out.ids.index(tokenizer.id("<out>"))
    end = out.ids.index(tokenizer.id("<eoo>"))
    assert not any(out.trained[start : end + 1])


def test_parse_turn_gives_the_protocol_call_back(tokenizer):
    out = render(tokenizer, CONVERSATION[:2])
    start = out.ids.index(tokenizer.id("<call>"))
    name, arguments = parse_turn(tokenizer, out.ids[start:], out.slots)
    assert name == "read_file"
    assert json.loads(arguments) == {"path": "reports/norvale-systems-group/2025-Q1.md"}
    answer = render(tokenizer, CONVERSATION)
    last = len(answer.ids) - answer.ids[::-1].index(tokenizer.id("<answer>")) - 1
    assert parse_turn(tokenizer, answer.ids[last:], answer.slots) == "1234.5"


def test_bad_items_name_where_they_are(tokenizer):
    with pytest.raises(ValueError, match="conversation item 1"):
        render(tokenizer, [CONVERSATION[0], {"type": "reasoning"}])


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    return TinyLM(ModelConfig(len(tokenizer), block_size=64, n_layer=2, n_head=2, n_embd=32))


def test_logits_shape_and_parameter_count(model, tokenizer):
    logits = model(torch.randint(0, len(tokenizer), (3, 17)))
    assert logits.shape == (3, 17, len(tokenizer))
    assert 20_000 < model.num_parameters() < 60_000


def test_cached_left_padded_generation_matches_step_by_step_greedy(model):
    prompts = [[1, 5, 7, 9, 11], [1, 12]]
    outputs = model.generate(prompts, max_new_tokens=6, stop_ids=set(), temperature=0)
    for prompt, output in zip(prompts, outputs, strict=True):
        ids = list(prompt)
        for _ in range(6):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
        assert output == ids[len(prompt) :]


def test_the_kv_cache_is_written_in_place_and_refuses_to_overflow(model):
    caches = [{"capacity": 8} for _ in model.blocks]
    padding = torch.zeros(1, 5, dtype=torch.bool)
    model(torch.tensor([[1, 5, 7, 9, 11]]), padding, caches=caches)
    buffer = caches[0]["k"].data_ptr()
    positions = torch.tensor([[5]])
    for step in range(3):
        step_padding = torch.zeros(1, 1, dtype=torch.bool)
        past = torch.zeros(1, 5 + step, dtype=torch.bool)
        model(torch.tensor([[3]]), step_padding, positions + step, caches, past)
    assert caches[0]["k"].data_ptr() == buffer and caches[0]["length"] == 8
    with pytest.raises(ValueError, match="holds 8 positions, not 9"):
        full = torch.zeros(1, 8, dtype=torch.bool)
        model(torch.tensor([[3]]), step_padding, positions + 3, caches, full)


def test_sequence_logprobs_ignore_right_padding(model):
    ids = torch.tensor([[1, 5, 7, 9]])
    padded = torch.tensor([[1, 5, 7, 9, 0, 0]])
    assert torch.allclose(sequence_logprobs(model, ids), sequence_logprobs(model, padded)[:, :3])


def test_masked_mean_uses_only_masked_values():
    values = torch.tensor([1.0, 100.0, 3.0])
    assert masked_mean(values, torch.tensor([True, False, True])).item() == 2.0
    assert masked_mean(values, torch.zeros(3, dtype=torch.bool)).item() == 0.0


def test_batches_pad_right_and_group_similar_lengths(tokenizer):
    rows = [render(tokenizer, CONVERSATION[: n + 1]) for n in range(4)]
    ids, padding, trained = batch_tensors(rows)
    assert ids.shape[1] == max(len(r.ids) for r in rows)
    assert not trained[padding].any()
    assert sum(len(b) for b in length_buckets(rows, batch_tokens=60)) == 4
