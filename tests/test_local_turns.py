"""Turn markers: reasoning segments and several calls per turn, without moving any existing id; a
sampled turn of any shape gets a bounded result."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.course.pretrain import build_tokenizer
from rftkit.local.tokenizer import FIRST_SLOT, TURN_MARKERS, SlotTable, Tokenizer, render
from rftkit.local.turns import MAX_CALLS_PER_TURN, ParsedTurn, parse_marked_turn

THOUGHT = "I call read_file twice. I call read_file twice."
TWO_CALLS = [
    {"role": "user", "content": "What was the revenue of Norvale in 2025-Q1?"},
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": THOUGHT}]},
    {"type": "function_call", "call_id": "c1", "name": "read_file",
     "arguments": '{"path": "reports/norvale/2025-Q1.md"}'},
    {"type": "function_call", "call_id": "c2", "name": "calculator",
     "arguments": '{"expression": "1 + 2"}'},
    {"type": "function_call_output", "call_id": "c1", "output": "norvale 2025-Q1 revenue 1234.5"},
    {"type": "function_call_output", "call_id": "c2", "output": "3"},
    {"role": "assistant", "content": "1234.5"},
]  # fmt: skip


@pytest.fixture(scope="module")
def tokenizers(scripted_world):
    _, conversations = scripted_world
    texts = [*conversations, TWO_CALLS]
    return build_tokenizer(texts, set()), build_tokenizer(texts, set(), turn_markers=True)


def test_markers_are_appended_and_move_no_other_id(tokenizers):
    plain, marked = tokenizers
    assert not plain.turn_markers and marked.turn_markers
    assert marked.vocab == [*plain.vocab, *TURN_MARKERS]
    assert marked.vocab[FIRST_SLOT] == plain.vocab[FIRST_SLOT] == "<s0>"
    # a saved vocabulary keeps its layout both ways
    assert Tokenizer.from_state_dict(marked.state_dict()).turn_markers
    assert not Tokenizer.from_state_dict(plain.state_dict()).turn_markers
    assert Tokenizer.from_state_dict(marked.state_dict()).vocab == marked.vocab


def test_a_multi_call_turn_renders_calls_then_outputs_and_trains_only_the_models_tokens(
    tokenizers,
):
    _, tok = tokenizers
    out = render(tok, TWO_CALLS)
    words = [tok.vocab[i] for i in out.ids]
    markers = [w for w in words if w.startswith("<") and not w.startswith(("<s", "<cap"))]
    assert markers == ["<bos>", "<user>", "<eot>", "<think>", "<eothink>", "<call>", "<eoc>",
                       "<call>", "<eoc>", "<eocalls>", "<out>", "<eoo>", "<out>", "<eoo>",
                       "<answer>", "<eot>"]  # fmt: skip
    think, end = words.index("<think>"), words.index("<eothink>")
    assert tok.decode(out.ids[think : end + 1], out.slots) == THOUGHT
    trained = [w for w, t in zip(words, out.trained, strict=True) if t]
    assert "<out>" not in trained and "<eoo>" not in trained and "<user>" not in trained
    first_out, last_eoo = words.index("<out>"), len(words) - 1 - words[::-1].index("<eoo>")
    assert not any(out.trained[first_out : last_eoo + 1])  # both outputs, and nothing between
    assert all(out.trained[think:first_out])  # reasoning, both calls and <eocalls>


def test_a_tokenizer_without_markers_refuses_reasoning_by_name(tokenizers):
    plain, _ = tokenizers
    with pytest.raises(ValueError, match="conversation item 1: cannot render type='reasoning'"):
        render(plain, TWO_CALLS)


def turn_of(tok, items) -> tuple[list[int], SlotTable]:
    """The model-written ids of ``items`` (one turn) after the question, and their slots."""
    question = render(tok, TWO_CALLS[:1])
    whole = render(tok, TWO_CALLS[:1] + items)
    return whole.ids[len(question.ids) :], whole.slots


def test_a_rendered_turn_parses_back_to_its_calls_and_reasoning(tokenizers):
    _, tok = tokenizers
    ids, slots = turn_of(tok, TWO_CALLS[1:4])
    turn = parse_marked_turn(tok, ids, slots)
    assert [name for name, _ in turn.calls] == ["read_file", "calculator"]
    assert json.loads(turn.calls[0][1]) == {"path": "reports/norvale/2025-Q1.md"}
    reasoning = ids.index(tok.id("<eothink>")) + 1
    assert turn.reasoning_tokens == reasoning == len(tok.encode(THOUGHT, SlotTable())) + 2
    answer, slots = turn_of(tok, TWO_CALLS[-1:])
    assert parse_marked_turn(tok, answer, slots) == ParsedTurn([], "1234.5", 0)


def test_hostile_turns_get_bounded_results(tokenizers):
    _, tok = tokenizers
    call, _ = turn_of(tok, TWO_CALLS[3:4])  # <call> calculator{...} <eoc> <eocalls>
    fifty = call[:-1] * 50 + call[-1:]
    assert len(parse_marked_turn(tok, fifty, SlotTable()).calls) == MAX_CALLS_PER_TURN
    thinking, slots = turn_of(tok, TWO_CALLS[1:2])
    unterminated = thinking[:-1]  # the token limit hit before <eothink>
    assert parse_marked_turn(tok, unterminated, slots) == ParsedTurn([], "", len(unterminated))
    only_reasoning = thinking + [tok.id("<eot>")]
    assert parse_marked_turn(tok, only_reasoning, slots) == ParsedTurn([], "", len(thinking))
    answer, slots = turn_of(tok, TWO_CALLS[-1:])
    calls_after_answer = answer[:-1] + call  # <answer> 1234.5 <call> ... <eocalls>
    turn = parse_marked_turn(tok, calls_after_answer, slots)
    assert turn == ParsedTurn([], "1234.5", 0)  # the answer decided the turn; no call runs
    assert parse_marked_turn(tok, [], SlotTable()) == ParsedTurn([], "", 0)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_sampled_turn_parses_within_bounds(tokenizers, data):
    _, tok = tokenizers
    markers = [tok.id(m) for m in ("<think>", "<eothink>", "<call>", "<eoc>", "<answer>")]
    token = st.one_of(st.sampled_from(markers), st.integers(0, len(tok) - 1))
    ids = data.draw(st.lists(token, max_size=200))
    turn = parse_marked_turn(tok, ids, SlotTable(["1.5", "norvale"]))
    assert len(turn.calls) <= MAX_CALLS_PER_TURN
    assert 0 <= turn.reasoning_tokens <= len(ids)
    assert not (turn.calls and turn.answer)
