"""A warm start for a team's own task: a small model taught by the task's reference solver.

The committed base model knows only the course's tools, so on a team's task it would never call
the team's tools. A warm start makes a model that does, in three steps, before GRPO:

1. **transcripts** — the reference solver (``module:function``, the ``solve(line)`` a project
   made by ``rftkit new`` has) is acted out on every training line by
   :class:`~rftkit.rollouts.solver.SolverPolicy` through the task's tool URLs, with the task's
   headers, as real HTTP calls; each rollout's conversation (question, calls, the service's
   outputs, answer) is kept when the task's grader marks it correct;
2. **tokenizer** — a vocabulary from those transcripts and the lines' tool specs, with every
   number a slot (``small_integers=False``): ids and dates are copied from the question or a tool
   output, never written from memory (but a constant the solver passes unread, ``top_k: 5``,
   is a word; see :func:`task_tokenizer`);
3. **supervised phase** — a fresh TinyLM trained on the solver's own tokens (calls and answers,
   not the question or tool outputs) with :func:`rftkit.local.supervised.train_cycle`.

This is a rehearsal of the hosted job: the traffic to the team's tools, the team's grader and the
trainer's failure semantics are the real ones; the model is a ~0.1M-parameter toy trained for
seconds, so its accuracy says nothing about what a hosted model will reach.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from rftkit.errors import RFTKitError
from rftkit.local.batches import length_buckets
from rftkit.local.grpo import GRPOConfig
from rftkit.local.model import ModelConfig, TinyLM
from rftkit.local.policy import LocalModelPolicy
from rftkit.local.supervised import Optimisation, train_cycle
from rftkit.local.tokenizer import Tokenizer, base_form, pieces, render
from rftkit.protocol import JobTool, Trace
from rftkit.rollouts import run_rollouts
from rftkit.rollouts.policy import PolicyTurn
from rftkit.rollouts.solver import Solver, SolverPolicy
from rftkit.rollouts.traces import is_correct

_WORD = re.compile(r"[A-Za-z_]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class WarmStartError(ValueError, RFTKitError):
    """The warm start cannot be made: a solver that does not load, or no usable transcript."""


@dataclass(frozen=True)
class WarmStartConfig:
    """The warm start's settings, a minute or less on two CPU cores. The supervised phase is
    short on purpose: on the order-database task of the kit's tests 300 steps already solved
    every held-out line, and a model that solves every training line gives GRPO equal rewards,
    nothing to learn (triage stops the job); 150 steps leave it room, as a hosted base model
    leaves the hosted trainer room.

    GRPO after it runs gentler than on the course's base model (``grpo_lr``, ``grpo_kl_coef``;
    applied by :func:`grpo_after_warm_start` unless the job's GRPO settings name them), chosen
    on the order task's training lines alone (12 to train, 6 to measure): at the base recipe's
    lr 3e-4 and KL 0.04 ten steps lowered the measured lines' accuracy, at 1e-4 and 0.2 they did
    not. That comparison was a one-off script, not shipped; the job's own closing event says on
    every run whether GRPO beat the warm start on validation."""

    steps: int = 150
    lr: float = 3e-3
    warmup: int = 20
    weight_decay: float = 0.05
    batch_tokens: int = 4096
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 512
    grpo_lr: float = 1e-4  # GRPO's peak learning rate after it (× the task's multiplier)
    grpo_kl_coef: float = 0.2
    solver_repeats: int = 1  # solver rollouts per training line (it is deterministic)
    seed: int = 0
    threads: int = 1


def grpo_after_warm_start(
    grpo: GRPOConfig, overrides: dict[str, Any], config: WarmStartConfig
) -> GRPOConfig:
    """``grpo`` with the warm start's gentler learning rate (scaled as the task's multiplier
    scaled the base one) and KL coefficient, where ``overrides`` do not set them."""
    gentler = {
        "lr": grpo.lr * config.grpo_lr / GRPOConfig.lr,
        "kl_coef": config.grpo_kl_coef,
    }
    return replace(grpo, **{k: v for k, v in gentler.items() if k not in overrides})


@dataclass(frozen=True)
class Accuracy:
    """Held-out accuracy: the mean over lines of each line's share of correct rollouts, and its
    standard error over lines (NaN with fewer than two lines)."""

    mean: float
    se: float
    lines: int
    rollouts: int

    def __str__(self) -> str:
        spread = f"{self.mean:.2f} ± {self.se:.2f} (SE)"
        return f"{spread} over {self.lines} lines, {self.rollouts} rollouts"


@dataclass
class WarmStart:
    """The warm-started model, its tokenizer, and what was done to make it."""

    model: TinyLM
    tokenizer: Tokenizer
    summary: dict[str, Any] = field(default_factory=dict)


def load_solver(spec: str | Solver) -> Solver:
    """``'package.module:function'`` -> the function (a callable is returned as it is)."""
    if callable(spec):
        return spec
    module_name, colon, name = str(spec).partition(":")
    if not colon or not module_name or not name:
        raise WarmStartError(
            f"warm start {spec!r}: name the reference solver as module:function, "
            "e.g. support_agent.solver:solve"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WarmStartError(
            f"warm start {spec!r}: cannot import {module_name} ({exc}); run from the project's "
            "folder or install the project"
        ) from None
    solve = getattr(module, name, None)
    if not callable(solve):
        raise WarmStartError(f"warm start {spec!r}: {module_name} has no function {name!r}")
    return solve


def solver_name(spec: str | Solver) -> str:
    """How events name the solver: its ``module:function``."""
    if callable(spec):
        return f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', '?')}"
    return str(spec)


class _Recording:
    """A policy that passes turns through and keeps each finished rollout's conversation."""

    def __init__(self, inner: SolverPolicy) -> None:
        self.inner, self.name = inner, inner.name
        self.conversations: dict[str, list[dict[str, Any]]] = {}

    async def next_turn(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], *, trace_id: str
    ) -> PolicyTurn:
        turn = await self.inner.next_turn(conversation, tools, trace_id=trace_id)
        if turn.is_final:
            answer = {"role": "assistant", "content": turn.text}
            self.conversations[trace_id] = [*conversation, answer]
        return turn


def solver_transcripts(
    items: Sequence[dict[str, Any]],
    solve: Solver,
    tools: Sequence[JobTool],
    grader: dict[str, Any],
    *,
    repeats: int = 1,
    max_episode_steps: int = 10,
    reached: Counter[str] | None = None,
) -> tuple[list[list[dict[str, Any]]], list[Trace]]:
    """The solver acted out on ``items`` through the tools' URLs; the conversations the grader
    marked correct, and every rollout's trace."""
    recording = _Recording(SolverPolicy(items, solve, "reference"))
    traces = asyncio.run(
        run_rollouts(
            items,
            recording,
            tools=tools,
            grader=grader,
            repeats=repeats,
            max_episode_steps=max_episode_steps,
            progress=False,
            reached=reached,
        )
    )
    kept = [
        recording.conversations[t.trace_id]
        for t in traces
        if t.status == "completed" and is_correct(t) and t.trace_id in recording.conversations
    ]
    return kept, traces


def copied_words(conversation: list[dict[str, Any]]) -> set[str]:
    """Words the solver copied into its calls' arguments from what it had read (the question or a
    tool output), in their vocabulary form: a search query made of the question's words, a
    carrier name read off a record."""
    read: set[str] = set()
    copied: set[str] = set()
    for item in conversation:
        if item.get("type") == "function_call":
            values = _string_values(json.loads(item.get("arguments") or "{}"))
            words = {base_form(p) for v in values for p in pieces(v) if _WORD.fullmatch(p)}
            copied |= words & read
        text = item.get("output") if item.get("type") == "function_call_output" else None
        if item.get("role") == "user":
            text = item.get("content")
        if text is not None:
            read |= {base_form(p) for p in pieces(str(text)) if _WORD.fullmatch(p)}
    return copied


def call_numbers(conversation: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Numbers in the solver's call arguments: those it had not read (in the question or a tool
    output) before the call, constants of its own such as ``top_k: 5``; and those it had read,
    copied like an order id."""
    read: set[str] = set()
    fixed: set[str] = set()
    copied: set[str] = set()
    for item in conversation:
        if item.get("type") == "function_call":
            numbers = {p for p in pieces(item.get("arguments") or "") if _NUMBER.fullmatch(p)}
            fixed |= numbers - read
            copied |= numbers & read
        text = item.get("output") if item.get("type") == "function_call_output" else None
        if item.get("role") == "user":
            text = item.get("content")
        if text is not None:
            read |= {p for p in pieces(str(text)) if _NUMBER.fullmatch(p)}
    return fixed, copied


def _string_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _string_values(v)]
    if isinstance(value, list):
        return [s for v in value for s in _string_values(v)]
    return []


def task_tokenizer(
    conversations: Sequence[list[dict[str, Any]]], items: Sequence[dict[str, Any]]
) -> Tokenizer:
    """A vocabulary from the transcripts (questions, calls, tool outputs, answers) and the lines'
    tool specs; every number is a slot, and so is every word the solver copied into a call's
    arguments from what it read (``copied_words``).

    Why the copied words: a ~0.1M-parameter model trained on a few dozen transcripts cannot
    learn to copy vocabulary words: the template's example, whose solver searches with the
    question's own words, was memorised (its training queries came back word for word, held-out
    ones as word salad). Slots are copied like figures: the question's words take slots in
    order, and the query is those slots again; held-out queries then come back as the question.

    The exception to "every number is a slot": a number the solver passes without having read
    it (``top_k: 5``) and never copies is vocabulary, so the model can write it (a slot it could
    only copy, from nowhere). The cost: the same figure in a tool output is then a word, not a
    slot, and an answer of that figure is written, not copied.
    """
    texts = []
    copied: set[str] = set()
    fixed: set[str] = set()
    copied_numbers: set[str] = set()
    for conversation in conversations:
        copied |= copied_words(conversation)
        unread, read = call_numbers(conversation)
        fixed |= unread
        copied_numbers |= read
        for item in conversation:
            texts += [str(item.get(k, "")) for k in ("content", "name", "arguments", "output")]
    for item in items:
        texts += [json.dumps(spec) for spec in item.get("tools") or []]
    return Tokenizer.build(
        texts, exclude=copied, small_integers=False, numbers=fixed - copied_numbers
    )


def new_model(tokenizer: Tokenizer, config: WarmStartConfig) -> TinyLM:
    """An untrained TinyLM for ``tokenizer`` (seeded: the same config gives the same weights)."""
    torch.manual_seed(config.seed)
    shape = ModelConfig(
        len(tokenizer), config.block_size, config.n_layer, config.n_head, config.n_embd
    )
    return TinyLM(shape)


def held_out_accuracy(
    model: TinyLM,
    tokenizer: Tokenizer,
    items: Sequence[dict[str, Any]],
    tools: Sequence[JobTool],
    grader: dict[str, Any],
    *,
    repeats: int = 2,
    max_episode_steps: int = 10,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    reached: Counter[str] | None = None,
) -> Accuracy:
    """``repeats`` rollouts of each line by ``model`` through the tools' URLs, graded."""
    policy = LocalModelPolicy(model, tokenizer, temperature=temperature, top_p=top_p, seed=seed)
    model.eval()
    traces = asyncio.run(
        run_rollouts(
            items,
            policy,
            tools=tools,
            grader=grader,
            repeats=repeats,
            max_episode_steps=max_episode_steps,
            progress=False,
            reached=reached,
        )
    )
    by_line: dict[str | None, list[float]] = {}
    for trace in traces:
        by_line.setdefault(trace.item_id, []).append(float(bool(is_correct(trace))))
    means = [statistics.fmean(v) for v in by_line.values()]
    se = statistics.stdev(means) / math.sqrt(len(means)) if len(means) > 1 else math.nan
    return Accuracy(statistics.fmean(means) if means else math.nan, se, len(means), len(traces))


def warm_start(
    items: Sequence[dict[str, Any]],
    solve: Solver,
    tools: Sequence[JobTool],
    grader: dict[str, Any],
    config: WarmStartConfig = WarmStartConfig(),
    *,
    max_episode_steps: int = 10,
    reached: Counter[str] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: bool = False,
) -> WarmStart:
    """Transcripts from ``solve`` on ``items`` through ``tools``, a tokenizer, and a TinyLM trained
    on them (see the module docstring). ``reached`` counts the requests the tools answered."""
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    conversations, traces = solver_transcripts(
        items,
        solve,
        tools,
        grader,
        repeats=config.solver_repeats,
        max_episode_steps=max_episode_steps,
        reached=reached,
    )
    if not conversations:
        statuses = Counter(t.status for t in traces)
        errors = sorted({t.error for t in traces if t.error})[:3]
        raise WarmStartError(
            f"the reference solver's {len(traces)} rollouts gave no transcript the grader marked"
            f" correct (statuses {dict(statuses)}; errors {errors or 'none'}): check the tool URLs,"
            " the solver's calls and the grader"
        )
    tokenizer = task_tokenizer(conversations, items)
    rows = [render(tokenizer, c) for c in conversations]
    fitting = [r for r in rows if len(r.ids) <= config.block_size]
    if not fitting:
        raise WarmStartError(
            f"every transcript is longer than the model's {config.block_size}-token context"
        )
    transcripts_seconds = time.perf_counter() - started
    model = new_model(tokenizer, config)
    optimisation = Optimisation(config.lr, config.warmup, config.weight_decay)
    batches = length_buckets(fitting, config.batch_tokens)
    model.train()
    losses = train_cycle(
        model,
        batches,
        random.Random(config.seed),
        optimisation,
        config.steps,
        "warm start",
        progress,
        should_stop=should_stop,
    )
    model.eval()
    summary = {
        "solver_rollouts": len(traces),
        "transcripts": len(fitting),
        "transcripts_over_context": len(rows) - len(fitting),
        "vocab": len(tokenizer),
        "parameters": model.num_parameters(),
        "steps": len(losses),
        "first_loss": round(losses[0], 3) if losses else None,
        "final_loss": round(statistics.fmean(losses[-20:]), 3) if losses else None,
        "transcripts_seconds": round(transcripts_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return WarmStart(model, tokenizer, summary)
