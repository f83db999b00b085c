"""The local model behind the rollouts ``Policy`` interface, so it is evaluated like any model.

Concurrent rollouts ask for turns at the same time; ``next_turn`` queues each request and one
batcher runs them through ``TinyLM.generate`` together (one batched forward per token instead of
one per rollout), which is what makes GRPO rollouts cheap on two CPU cores.

Each rollout samples from its own random stream, seeded from the policy's seed, the question and
how many rollouts of that question this policy has started: a rollout's tokens then do not depend
on which other rollouts happened to share its batch, so a run is reproducible however the tool
calls' timing interleaves the rollouts (up to float rounding), and evaluating two checkpoints
with fresh policies of the same seed uses the same streams (common random numbers).

For the trainer, the policy keeps per ``trace_id`` the exact token ids the model saw and sampled
(``record(trace_id)``): re-encoding the conversation text afterwards could differ from what was
sampled, and the policy gradient must be taken on the sampled tokens themselves.

Each rollout keeps its keys and values between turns (``cache_across_turns``, on by default;
``rftkit.local.model.KVCache``): a turn encodes only the tool outputs that arrived since the last
one instead of the whole conversation again. The kept keys were computed a few tokens at a time,
which rounds differently in the last float bits from re-encoding the prompt at once, so a sample
could in principle differ from one drawn by re-encoding; in every comparison so far none has
(``benchmarks/kv_cache.py``, ``benchmarks/engine_vs_trl.py`` and the demo's 24-step run, whose
figures came out exactly as the committed re-encoded run's). ``cache_across_turns=False``
re-encodes each turn.

Batches run on ``workers`` threads side by side (two by default: the two cores the course
targets; each thread uses torch's intra-op thread count, one in GRPO). What waits when a thread
comes free is split between the free threads, and a thread starts a new batch while another is
still decoding a long turn. A row's sample does not depend on its batch (up to float rounding,
as above), so one worker and two draw the same tokens (``tests/test_local_kv_cache.py``: the
base checkpoint over several turns), and the demo's 24-step run with two reproduced the
committed run's figures; on two idle cores two workers cut the demo from 301 s to 208 s.

A tokenizer with turn markers (``rftkit.local.tokenizer``) lets one turn hold a reasoning segment
and several calls (read by ``rftkit.local.turns``; at most ``MAX_CALLS_PER_TURN`` run), ending at
``<eocalls>`` or ``<eot>``; the segment's length is the turn's ``Usage.reasoning_tokens``, where a
hosted Responses turn reports ``output_tokens_details.reasoning_tokens``. Without the markers (the
committed base checkpoint) a turn is one call or an answer, ending at ``<eoc>`` or ``<eot>``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from rftkit.local.model import KVCache, TinyLM, checked_top_p
from rftkit.local.tokenizer import (
    N_SLOTS,
    Rendered,
    SlotTable,
    Tokenizer,
    append_items,
    parse_turn,
)
from rftkit.local.turns import ParsedTurn, parse_marked_turn
from rftkit.protocol import Usage
from rftkit.rollouts.engine import initial_conversation
from rftkit.rollouts.policy import PolicyTurn, ToolCallRequest

MAX_TURN_TOKENS = 64
MAX_MARKED_TURN_TOKENS = 192
"""A turn with reasoning and several calls needs room: four calls of ~20 tokens and a segment."""
BATCH_WAIT_S = 0.002
"""How long the batcher lets concurrent rollouts join a batch (and polls while a worker is free)."""
GENERATE_CHUNK = 16
CACHED_CHUNK = 64
"""With keys and values kept across turns a prefill encodes only the new tokens, so its attention
scores are small and more rollouts fit one batch (fewer, fuller decoding steps)."""


@dataclass
class TraceRecord:
    """What the model saw and wrote in one rollout; ``trained`` marks sampled tokens."""

    rendered: Rendered
    generator: torch.Generator
    seen_items: int = 0
    own_call_ids: set[str] = field(default_factory=set)
    truncated: bool = False
    kept: KVCache | None = None  # with cache_across_turns: the encoded tokens' keys and values


@dataclass
class _Request:
    prompt: list[int]
    banned: torch.Tensor
    generator: torch.Generator
    future: asyncio.Future
    kept: KVCache | None = None


class LocalModelPolicy:
    """``Policy`` for a ``TinyLM``: temperature (and top-p) sampling; per turn, tool calls or an
    answer.

    Example::

        policy = LocalModelPolicy(model, tokenizer, temperature=1.0)
        traces = await run_rollouts(items, policy, tools=..., grader=..., repeats=4, ...)
        policy.record(traces[0].trace_id).rendered.ids   # what the trainer differentiates
    """

    def __init__(
        self,
        model: TinyLM,
        tokenizer: Tokenizer,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        name: str = "rftkit-local-tinylm",
        seed: int = 0,
        max_turn_tokens: int | None = None,
        cache_across_turns: bool = True,
        workers: int = 2,
    ):
        if workers < 1:
            raise ValueError(f"workers must be 1 or more, not {workers}")
        self.model, self.tokenizer, self.temperature = model, tokenizer, temperature
        self.top_p = checked_top_p(top_p)
        self.name = name
        default = MAX_MARKED_TURN_TOKENS if tokenizer.turn_markers else MAX_TURN_TOKENS
        self.max_turn_tokens = max_turn_tokens or default
        self.seed = seed
        self.cache_across_turns = cache_across_turns
        self._started: Counter[str] = Counter()  # rollouts started per question
        self.records: dict[str, TraceRecord] = {}
        self._queue: list[_Request] = []
        # Long-lived generation threads: each new thread gets its own malloc arena, and a fresh
        # thread per event loop (asyncio.to_thread) fragmented memory to ~1.8 GB in GRPO.
        self.workers = workers
        self._generation_threads = ThreadPoolExecutor(workers, thread_name_prefix="tinylm-generate")
        self._batcher: asyncio.Task | None = None
        end_of_calls = "<eocalls>" if tokenizer.turn_markers else "<eoc>"
        self._stop_ids = {tokenizer.id(end_of_calls), tokenizer.id("<eot>")}

    def record(self, trace_id: str) -> TraceRecord:
        return self.records[trace_id]

    def pop_record(self, trace_id: str) -> TraceRecord:
        return self.records.pop(trace_id)

    async def next_turn(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], *, trace_id: str
    ) -> PolicyTurn:
        record = self._extend_record(conversation, trace_id)
        prompt = record.rendered.ids
        room = self.model.config.block_size - len(prompt) - 1
        if room < 8:  # the context is full: stop the rollout with an empty answer
            record.truncated = True
            record.kept = None
            return PolicyTurn(text="", model=self.name, usage=Usage(input_tokens=len(prompt)))
        future = asyncio.get_running_loop().create_future()
        banned = self._banned(record.rendered.slots)
        if self.cache_across_turns and record.kept is None:
            record.kept = KVCache.empty()
        self._queue.append(_Request(prompt, banned, record.generator, future, record.kept))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches())
        sampled: list[int] = await future
        record.rendered.ids += sampled
        record.rendered.trained += [True] * len(sampled)
        parsed = self._parse(sampled, record.rendered.slots)
        usage = Usage(
            input_tokens=len(prompt),
            output_tokens=len(sampled),
            reasoning_tokens=parsed.reasoning_tokens,
        )
        record.seen_items = len(conversation)
        if not parsed.calls:  # an answer ends the rollout: its keys and values are not needed
            record.kept = None
        calls = []
        for number, (name, arguments) in enumerate(parsed.calls):
            call_id = f"call_{trace_id[-8:]}_{len(conversation)}" + (f"_{number}" if number else "")
            record.own_call_ids.add(call_id)
            calls.append(ToolCallRequest(call_id=call_id, name=name, arguments=arguments))
        return PolicyTurn(text=parsed.answer, tool_calls=calls, usage=usage, model=self.name)

    def _parse(self, sampled: list[int], slots: SlotTable) -> ParsedTurn:
        if self.tokenizer.turn_markers:
            return parse_marked_turn(self.tokenizer, sampled, slots)
        parsed = parse_turn(self.tokenizer, sampled, slots)
        if isinstance(parsed, str):
            return ParsedTurn([], parsed, 0)
        return ParsedTurn([parsed], "", 0)

    def _extend_record(self, conversation: list[dict[str, Any]], trace_id: str) -> TraceRecord:
        """Append the items that arrived since the last turn (our own calls are already in)."""
        record = self.records.get(trace_id)
        if record is None:
            rendered = Rendered([self.tokenizer.id("<bos>")], [False], SlotTable())
            record = TraceRecord(rendered, self._new_stream(conversation))
            self.records[trace_id] = record
        arrived = [
            item
            for item in conversation[record.seen_items :]
            if item.get("role") != "assistant"
            and not (item.get("type") == "function_call" and item["call_id"] in record.own_call_ids)
        ]
        append_items(self.tokenizer, record.rendered, arrived, where="new conversation item")
        record.seen_items = len(conversation)
        return record

    def skip_streams(self, items: list[dict[str, Any]], count: int) -> None:
        """Count ``count`` more rollouts of each line as started, without running them: the
        streams they would have drawn are skipped, so later rollouts draw what they would have."""
        for item in items:
            self._started[_question(initial_conversation(item))] += count

    def _new_stream(self, conversation: list[dict[str, Any]]) -> torch.Generator:
        """The random stream of a new rollout: (policy seed, prompt, n-th rollout of it)."""
        question = _question(conversation)  # a rollout's first turn: the item's messages
        key = f"{self.seed}|{self._started[question]}|{question}".encode()
        self._started[question] += 1
        seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1
        return torch.Generator().manual_seed(seed)

    def _banned(self, slots: SlotTable) -> torch.Tensor:
        """Slots with no string yet, padding and input-only markers may never be sampled."""
        banned = torch.zeros(len(self.tokenizer), dtype=torch.bool)
        first = self.tokenizer.first_slot + len(slots.strings)
        banned[first : self.tokenizer.first_slot + N_SLOTS] = True
        for special in ("<pad>", "<bos>", "<user>", "<out>", "<eoo>", "<unk>"):
            banned[self.tokenizer.id(special)] = True
        return banned

    async def _run_batches(self) -> None:
        """Drain the queue: let concurrent rollouts enqueue, then split what waits between the
        free workers. While a worker is free it looks at the queue every ``BATCH_WAIT_S``, as
        the one-worker loop always did (a timer, not an event: nothing has to wake it)."""
        running: set[asyncio.Task] = set()
        try:
            while self._queue or running:
                if self._queue and len(running) < self.workers:
                    await asyncio.sleep(0)  # other rollouts reach next_turn in this tick
                    await asyncio.sleep(BATCH_WAIT_S)
                    batch, self._queue = self._queue, []
                    for part in _split(batch, self.workers - len(running)):
                        running.add(asyncio.create_task(self._run_part(part)))
                    continue
                free = len(running) < self.workers
                done, _ = await asyncio.wait(
                    running,
                    timeout=BATCH_WAIT_S if free else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                running -= done
        finally:  # cancelled or failed: no queued rollout may wait for a batch that never runs
            waiting, self._queue = self._queue, []
            for request in waiting:
                if not request.future.done():
                    request.future.set_exception(RuntimeError("the generation batcher stopped"))

    async def _run_part(self, part: list[_Request]) -> None:
        """Generate for ``part`` on a worker and hand each rollout its tokens (or the failure)."""
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(
                self._generation_threads, self._generate, part
            )
        except Exception as exc:  # hand the failure to every waiting rollout
            for request in part:
                if not request.future.done():  # an aborted rollout's future is cancelled
                    request.future.set_exception(exc)
            return
        for request, output in zip(part, outputs, strict=True):
            if not request.future.done():
                request.future.set_result(output)

    def _generate(self, batch: list[_Request]) -> list[list[int]]:
        """Generate in chunks: a padded prefill materialises (B, heads, T, T) attention scores,
        so one chunk of ``GENERATE_CHUNK`` prompts (``CACHED_CHUNK`` when only the new tokens
        are encoded) bounds memory however many rollouts wait."""
        self.model.eval()
        outputs: list[list[int]] = []
        size = CACHED_CHUNK if self.cache_across_turns else GENERATE_CHUNK
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            longest = max(len(r.prompt) for r in chunk)
            outputs += self.model.generate(
                [r.prompt for r in chunk],
                max_new_tokens=min(
                    self.max_turn_tokens, self.model.config.block_size - longest - 1
                ),
                stop_ids=self._stop_ids,
                temperature=self.temperature,
                top_p=self.top_p,
                banned=[r.banned for r in chunk],
                generators=[r.generator for r in chunk],
                kept=[r.kept for r in chunk] if self.cache_across_turns else None,
            )
        return outputs


def _split(batch: list[_Request], parts: int) -> list[list[_Request]]:
    """``batch`` in at most ``parts`` contiguous, non-empty parts of near-equal size."""
    parts = max(1, min(parts, len(batch)))
    size, extra = divmod(len(batch), parts)
    bounds = [n * size + min(n, extra) for n in range(parts + 1)]
    return [batch[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _question(conversation: list[dict[str, Any]]) -> str:
    """What a rollout's random stream is keyed on: its first turn's conversation."""
    return repr(conversation)
