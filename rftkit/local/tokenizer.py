"""A reversible tokenizer for the compact world, with per-conversation slots as a copy mechanism.

Why not bytes or digits: a ~1M-parameter model trained for minutes could not copy a figure digit
by digit out of a tool output (the exploratory run stayed under 8% accuracy). Here every figure
and every unknown identifier (a company's invented stem such as ``norvale``) becomes one *slot*
token ``<sK>``: the K-th distinct such string of this conversation. Copying a figure is then
copying one token, which attention does well, and unseen worlds use the same slots as the
training worlds. The slot table lives with the conversation; decoding maps slots back to strings.

Other rules, all reversible (``decode(encode(text)) == text`` while slots last):
- a capitalised word is ``<cap>`` + the lower-case word, so 'Norvale' and the slug's 'norvale'
  share a slot and the model learns name -> slug as 'drop <cap>, join with -';
- a minus sign is its own token, so a figure's sign is visible to the model;
- quarters ('2025-Q1') and a few JSON joints ('{"', '": "') are single tokens;
- small integers (0-20, 100) are ordinary vocabulary, so the model can write them itself (a
  tokenizer built with ``small_integers=False`` makes every number a slot).

A conversation renders to one token stream (see ``render``): the question, then for each turn
either ``<call> name {json} <eoc>`` and the tool's ``<out> ... <eoo>``, or ``<answer> ... <eot>``.

Turn markers (``TURN_MARKERS``), only in a tokenizer built with ``turn_markers=True``:
- ``<think> ... <eothink>`` holds a reasoning segment (a Responses-API ``reasoning`` item) before
  a turn's calls or answer; all its tokens, markers included, are the turn's reasoning tokens;
- ``<eocalls>`` ends a turn of one or more calls, so one turn is
  ``[<think> ... <eothink>] <call> ... <eoc> <call> ... <eoc> <eocalls>`` followed by every
  call's ``<out> ... <eoo>``, and the model learns when to stop issuing calls.
They sit at the end of the vocabulary, so every other id (slot ``k`` is ``FIRST_SLOT + k``) is
what it is in a tokenizer without them; a checkpoint saved before they existed loads without them
and its model keeps its one-call turns (see ``rftkit.local.turns`` for the new turn grammar).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

SPECIALS = (
    "<pad>",
    "<bos>",
    "<user>",
    "<call>",
    "<eoc>",
    "<out>",
    "<eoo>",
    "<answer>",
    "<eot>",
    "<cap>",
    "<unk>",
)
N_SLOTS = 96
FIRST_SLOT = len(SPECIALS)  # slot k is token id FIRST_SLOT + k in every vocabulary
CONSTANTS = tuple(str(n) for n in range(21)) + ("100",)
TURN_MARKERS = ("<think>", "<eothink>", "<eocalls>")
JSON_JOINTS = ('{"', '": "', '", "', '"}', '": ', ', "')
_PIECE = re.compile(
    "|".join(
        [re.escape(j) for j in sorted(JSON_JOINTS, key=len, reverse=True)]
        + [r"\d{4}-Q[1-4]", r"\d+(?:\.\d+)?", r"[A-Za-z_]+", r"\s", r"."]
    ),
    re.DOTALL,
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z_]+")


def pieces(text: str) -> list[str]:
    """Split ``text`` into the pieces the vocabulary is made of; ''.join(pieces(t)) == t."""
    return _PIECE.findall(text)


def _is_capitalised(piece: str) -> bool:
    return len(piece) > 1 and piece[0].isupper() and piece[1:].islower()


def base_form(piece: str) -> str:
    """The vocabulary form of a piece: capitalised words lose their capital."""
    return piece.lower() if _is_capitalised(piece) else piece


@dataclass
class SlotTable:
    """The distinct figures and unknown identifiers of one conversation, in order of appearance."""

    strings: list[str] = field(default_factory=list)

    def slot(self, text: str) -> int | None:
        """The slot of ``text``, assigning the next free one; None when all are taken."""
        if text in self.strings:
            return self.strings.index(text)
        if len(self.strings) >= N_SLOTS:
            return None
        self.strings.append(text)
        return len(self.strings) - 1


class Tokenizer:
    """Fixed vocabulary (specials, slots, known words and punctuation) plus per-conversation slots.

    Example::

        tok = Tokenizer.build(["revenue of", "What"])
        slots = SlotTable()
        ids = tok.encode("What revenue of Norvale: 1234.5", slots)
        tok.decode(ids, slots)        # 'What revenue of Norvale: 1234.5'
    """

    def __init__(
        self, words: Iterable[str], *, turn_markers: bool = False, small_integers: bool = True
    ):
        constants = set(CONSTANTS) if small_integers else set()
        known = sorted(set(words) - set(SPECIALS) - constants - set(TURN_MARKERS))
        self.vocab: list[str] = [*SPECIALS, *(f"<s{k}>" for k in range(N_SLOTS))]
        constants = CONSTANTS if small_integers else ()
        self.vocab += [*constants, *known, *(TURN_MARKERS if turn_markers else ())]
        self.turn_markers = turn_markers
        self.small_integers = small_integers
        self.index = {piece: i for i, piece in enumerate(self.vocab)}
        self.first_slot = FIRST_SLOT

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        exclude: Iterable[str] = (),
        *,
        turn_markers: bool = False,
        small_integers: bool = True,
        numbers: Iterable[str] = (),
    ) -> Tokenizer:
        """Vocabulary from example texts: every word and punctuation piece except figures and
        the ``exclude``d identifiers (a world's invented names must stay slots); with
        ``turn_markers``, the reasoning and end-of-calls markers at the end. Without
        ``small_integers`` every number is a slot, so an id such as 'A7' is copied like 'A27'
        (a team's task, whose ids are not quantities the model computes), except the
        ``numbers`` named here, which are vocabulary (a fixed argument such as ``top_k: 5``
        that the model must write, having nothing to copy it from)."""
        excluded = {e.lower() for e in exclude}
        words = set(JSON_JOINTS) | {n for n in numbers if _NUMBER.fullmatch(n)}
        for text in texts:
            for piece in pieces(text):
                form = base_form(piece)
                if _NUMBER.fullmatch(form) or form.lower() in excluded:
                    continue
                words.add(form)
        return cls(words, turn_markers=turn_markers, small_integers=small_integers)

    def __len__(self) -> int:
        return len(self.vocab)

    def id(self, special: str) -> int:
        return self.index[special]

    @staticmethod
    def is_slot(token_id):
        """True where ``token_id`` (an int or a tensor of ids) is a slot."""
        return (token_id >= FIRST_SLOT) & (token_id < FIRST_SLOT + N_SLOTS)

    def encode(self, text: str, slots: SlotTable) -> list[int]:
        """Token ids of ``text``; figures and unknown words take slots from ``slots``."""
        ids: list[int] = []
        for piece in pieces(text):
            if piece in self.index:
                ids.append(self.index[piece])
                continue
            if _is_capitalised(piece):
                ids.append(self.index["<cap>"])
                piece = piece.lower()
                if piece in self.index:
                    ids.append(self.index[piece])
                    continue
            slot = slots.slot(piece)
            ids.append(self.index["<unk>"] if slot is None else self.first_slot + slot)
        return ids

    def decode(self, ids: Iterable[int], slots: SlotTable) -> str:
        """Text of ``ids``; special tokens other than ``<cap>`` are dropped."""
        out: list[str] = []
        capitalise = False
        for token_id in ids:
            if self.is_slot(token_id):
                k = token_id - self.first_slot
                piece = slots.strings[k] if k < len(slots.strings) else "<unk>"
            elif self.vocab[token_id] == "<cap>":
                capitalise = True
                continue
            elif self.vocab[token_id] in (*SPECIALS, *TURN_MARKERS):
                continue
            else:
                piece = self.vocab[token_id]
            out.append(piece[:1].upper() + piece[1:] if capitalise else piece)
            capitalise = False
        return "".join(out)

    def state_dict(self) -> dict[str, list[str]]:
        return {"vocab": self.vocab}

    @classmethod
    def from_state_dict(cls, state: dict[str, list[str]]) -> Tokenizer:
        vocab = state["vocab"]
        turn_markers = tuple(vocab[-len(TURN_MARKERS) :]) == TURN_MARKERS
        start = len(SPECIALS) + N_SLOTS
        small_integers = tuple(vocab[start : start + len(CONSTANTS)]) == CONSTANTS
        tokenizer = cls(vocab[start:], turn_markers=turn_markers, small_integers=small_integers)
        if tokenizer.vocab != vocab:
            raise ValueError("checkpoint vocabulary does not match this tokenizer's layout")
        return tokenizer


@dataclass
class Rendered:
    """A conversation as token ids; ``trained[i]`` is True where the model wrote token ``i``."""

    ids: list[int]
    trained: list[bool]
    slots: SlotTable


def render(
    tokenizer: Tokenizer, conversation: list[dict], slots: SlotTable | None = None
) -> Rendered:
    """Responses-API items -> one token stream; only the model's own tokens are ``trained``.

    User messages become ``<user> text <eot>``, function calls ``<call> name {args} <eoc>``,
    function outputs ``<out> text <eoo>`` and assistant messages ``<answer> text <eot>``.
    System and developer messages are not shown to the local model (it has no use for them).
    With turn markers, reasoning items become ``<think> text <eothink>`` and the last call of a
    run of calls is followed by ``<eocalls>`` (both written by the model, so ``trained``).
    """
    out = Rendered([tokenizer.id("<bos>")], [False], slots or SlotTable())
    append_items(tokenizer, out, conversation, where="conversation item")
    return out


def append_items(tokenizer: Tokenizer, out: Rendered, items: list[dict], *, where: str) -> None:
    """Append Responses-API items to ``out`` (see ``render``); ``where`` names them in errors."""
    for number, item in enumerate(items):
        append_item(tokenizer, out, item, where=f"{where} {number}")
        following = items[number + 1 : number + 2]
        if tokenizer.turn_markers and _is_call(item) and not any(map(_is_call, following)):
            _extend(out, [], [], ["<eocalls>"], tokenizer, trained=True)


def _is_call(item: dict) -> bool:
    return item.get("type") == "function_call"


def append_item(tokenizer: Tokenizer, out: Rendered, item: dict, *, where: str = "item") -> None:
    """Append one Responses-API item to ``out`` (see ``render``)."""
    kind = item.get("type", "message")
    role = item.get("role")
    if kind == "function_call":
        body = tokenizer.encode(item["name"] + item["arguments"], out.slots)
        _extend(out, ["<call>"], body, ["<eoc>"], tokenizer, trained=True)
    elif kind == "function_call_output":
        body = tokenizer.encode(str(item["output"]), out.slots)
        _extend(out, ["<out>"], body, ["<eoo>"], tokenizer, trained=False)
    elif kind == "message" and role == "user":
        body = tokenizer.encode(_text(item["content"]), out.slots)
        _extend(out, ["<user>"], body, ["<eot>"], tokenizer, trained=False)
    elif kind == "message" and role == "assistant":
        body = tokenizer.encode(_text(item["content"]), out.slots)
        _extend(out, ["<answer>"], body, ["<eot>"], tokenizer, trained=True)
    elif kind == "reasoning" and tokenizer.turn_markers:
        body = tokenizer.encode(_text(item.get("summary", [])), out.slots)
        _extend(out, ["<think>"], body, ["<eothink>"], tokenizer, trained=True)
    elif kind == "message" and role in ("system", "developer"):
        return
    else:
        raise ValueError(f"{where}: cannot render type={kind!r} role={role!r}")


def _extend(
    out: Rendered,
    head: list[str],
    body: list[int],
    tail: list[str],
    tokenizer: Tokenizer,
    *,
    trained: bool,
) -> None:
    ids = [tokenizer.id(h) for h in head] + body + [tokenizer.id(t) for t in tail]
    out.ids += ids
    out.trained += [trained] * len(ids)


def _text(content: object) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise ValueError(f"content must be a string or a list of parts, not {content!r}")


def parse_turn(tokenizer: Tokenizer, ids: list[int], slots: SlotTable) -> tuple[str, str] | str:
    """A generated turn -> ``(name, arguments)`` for a call, or the answer text.

    ``ids`` start with ``<call>`` or ``<answer>``; anything else is read as an answer.
    """
    body = [i for i in ids[1:] if tokenizer.vocab[i] not in ("<eoc>", "<eot>")]
    text = tokenizer.decode(body, slots)
    if ids and ids[0] == tokenizer.id("<call>"):
        name, brace, arguments = text.partition("{")
        return name.strip(), (brace + arguments) if brace else "{}"
    return text


def is_json_object(arguments: str) -> bool:
    """True when ``arguments`` decode to a JSON object (what the protocol requires)."""
    try:
        return isinstance(json.loads(arguments), dict)
    except json.JSONDecodeError:
        return False
