"""One generated turn of a model whose tokenizer has turn markers -> its calls or its answer.

The grammar the scripted transcripts teach (``tokenizer`` module docstring)::

    [<think> reasoning <eothink>]  <answer> text <eot>
    [<think> reasoning <eothink>]  <call> name{json} <eoc>  <call> ... <eoc>  <eocalls>

A sampled turn can be anything, so every sequence gets a bounded result, never an exception:
- reasoning never closed (the turn hit its token limit): every token is reasoning, and the turn is
  an empty answer, which ends the rollout;
- reasoning followed by no call (``<think> ... <eothink> <eot>``): an empty answer;
- an answer ends at its first marker: calls written after ``<answer>`` are never run;
- a call turn keeps at most ``MAX_CALLS_PER_TURN`` calls (the first ones); the rest were sampled
  (the trainer still sees them) but are never run. The policy's token limit bounds them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from rftkit.local.tokenizer import SPECIALS, TURN_MARKERS, SlotTable, Tokenizer

MAX_CALLS_PER_TURN = 8
"""The most calls one local-model turn runs; the course's tasks need at most four together."""


@dataclass(frozen=True)
class ParsedTurn:
    """A turn's calls (``(name, arguments)``, empty for an answer), its answer text and how many
    of its tokens were reasoning."""

    calls: list[tuple[str, str]]
    answer: str
    reasoning_tokens: int


def parse_marked_turn(tokenizer: Tokenizer, ids: list[int], slots: SlotTable) -> ParsedTurn:
    """Read one sampled turn (its ids from the first generated token to the stop token)."""
    marker = {tokenizer.id(m) for m in (*SPECIALS, *TURN_MARKERS) if m != "<cap>"}
    reasoning = 0
    if ids and ids[0] == tokenizer.id("<think>"):
        if tokenizer.id("<eothink>") not in ids:
            return ParsedTurn([], "", len(ids))
        reasoning = ids.index(tokenizer.id("<eothink>")) + 1
    rest = ids[reasoning:]
    if not rest or rest[0] != tokenizer.id("<call>"):
        start = 1 if rest and rest[0] == tokenizer.id("<answer>") else 0
        body = _until(rest[start:], marker)
        return ParsedTurn([], tokenizer.decode(body, slots), reasoning)
    calls = []
    while rest and rest[0] == tokenizer.id("<call>") and len(calls) < MAX_CALLS_PER_TURN:
        body = _until(rest[1:], marker)
        name, brace, arguments = tokenizer.decode(body, slots).partition("{")
        calls.append((name.strip(), (brace + arguments) if brace else "{}"))
        rest = rest[1 + len(body) :]
        if rest and rest[0] == tokenizer.id("<eoc>"):
            rest = rest[1:]
    return ParsedTurn(calls, "", reasoning)


def _until(ids: list[int], markers: set[int]) -> list[int]:
    """The ids before the first marker."""
    for position, token_id in enumerate(ids):
        if token_id in markers:
            return ids[:position]
    return ids
