"""GRPO on the local model, with real tool calls over HTTP and real graders (read top to bottom).

One step:
1. **rollouts** — ``tasks_per_step`` training tasks, ``group_size`` rollouts each (the counterpart
   of ``compute_multiplier``), run by ``rftkit.rollouts.run_rollouts`` against the task's tool
   URLs (any service in the wire format), each rollout with its own ``trace_id``;
2. **reward** — the grader config (``rftkit.graders``) scores each rollout's final sample;
3. **advantage** — each reward minus its group's mean, over the group's standard deviation;
4. **loss** — token-level policy gradient on the tokens the model sampled (tool outputs and the
   question are masked out) plus a KL penalty to the frozen base model (the k3 estimator);
5. **step** — one AdamW update per batch of rollouts (on-policy, so no ratio clipping is needed).

Before training, *learnability triage* keeps the tasks whose rewards differ between rollouts of
the base model (``rftkit.evaluation.baseline.bucket_of``): a group of equal rewards has zero
advantage and teaches nothing; when no task varies, the run stops with :class:`NothingToLearn`
rather than train on nothing. The starting model is validated as step 0 (the base point of every
curve), then every ``eval_interval`` steps the policy is validated on the task's
validation lines, a checkpoint is written, and each step emits a ``fine_tuning.job.event`` in the
RFT metrics layout (docs/hosted-api.md §6.3), so the same analysis code reads local and hosted jobs.
"""

from __future__ import annotations

import asyncio
import copy
import math
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from rftkit.analysis.paired import mean_se
from rftkit.analysis.patterns import pattern_summary, rollout_patterns
from rftkit.errors import RFTKitError
from rftkit.evaluation.baseline import TOLERANCE, bucket_of
from rftkit.local.batches import batch_tensors, length_buckets
from rftkit.local.memory import release_free_memory, tune_malloc
from rftkit.local.model import TinyLM, checked_top_p, masked_mean, sequence_logprobs
from rftkit.local.policy import LocalModelPolicy
from rftkit.local.tokenizer import Rendered, Tokenizer
from rftkit.protocol import JobCheckpoint, JobTool, Trace, job_event
from rftkit.rollouts import run_rollouts
from rftkit.rollouts.engine import item_id_of, lines_by_id
from rftkit.rollouts.traces import is_correct


@dataclass
class GRPOConfig:
    """The local engine's settings. The defaults were chosen on tuning worlds (seeds 2500+), never
    on the held-out ones: 24 steps take 4.35-5.15 CPU-minutes, 2.80-3.35 minutes of wall time on
    two workers (``benchmarks/local_training.py``), and temperature 1 samples the model's own
    distribution. A task's hosted hyperparameters map onto these in
    ``rftkit.local.hyperparameters``; the rest (KL, temperature, triage) are GRPO-only."""

    steps: int = 24
    tasks_per_step: int = 8
    group_size: int = 6  # rollouts per task: the counterpart of compute_multiplier
    lr: float = 3e-4
    kl_coef: float = 0.04
    temperature: float = 1.0
    # Below 1, rollouts sample each token from its nucleus (``rftkit.local.model.nucleus``); the
    # loss still differentiates the whole distribution at ``temperature``, as TRL's GRPOTrainer
    # does with its own ``top_p``.
    top_p: float = 1.0
    max_episode_steps: int = 12
    triage_tasks: int | None = None  # how many training lines triage tries (None: all)
    triage_repeats: int = 3
    eval_interval: int = 8
    valid_repeats: int = 1  # rollouts per validation line: the counterpart of eval_samples
    seed: int = 0
    threads: int = 1  # torch's intra-op threads per worker
    workers: int = 2  # threads that generate batches and take loss buckets side by side
    batch_tokens: int = 8192
    cache_across_turns: bool = True  # keep keys and values between turns (LocalModelPolicy)
    validate_base: bool = True  # validate the starting model as step 0: every curve's base point

    def __post_init__(self) -> None:
        checked_top_p(self.top_p, "GRPO settings: top_p")


PATTERN_METRICS = {
    "turns": "turns per rollout",
    "parallel_turn_share": "share of tool turns with 2+ calls",
    "calls_after_evidence": "calls after the evidence was read",
    "reasoning_tokens": "reasoning tokens per rollout",
}
"""Event names of the ``rftkit.analysis.patterns`` figures each step reports."""


class NothingToLearn(RuntimeError, RFTKitError):
    """Triage found no task whose rollouts got different rewards: GRPO would have no signal."""


class Aborted(RuntimeError, RFTKitError):
    """``should_abort`` said stop: the rollouts under way were dropped, no weights changed."""


ABORT_POLL_S = 0.1
"""How often running rollouts ask ``should_abort``: a cancel is heard within this much time."""


async def rollout_items(
    policy: LocalModelPolicy,
    items: list[dict[str, Any]],
    tools: list[JobTool],
    grader: dict[str, Any],
    repeats: int,
    max_episode_steps: int,
    reached: Counter[str] | None = None,
) -> list[Trace]:
    """``repeats`` rollouts of each line through the task's tool URLs, graded by its grader;
    ``reached`` counts the requests the tools' URLs answered, per tool."""
    if not items:
        return []
    return await run_rollouts(
        items,
        policy,
        tools=tools,
        grader=grader,
        repeats=repeats,
        max_episode_steps=max_episode_steps,
        concurrency=256,
        progress=False,
        reached=reached,
    )


# -- the maths -----------------------------------------------------------------------------------
def group_advantages(rewards: list[float], groups: list[str]) -> torch.Tensor:
    """(r - mean of its group) / (std of its group + 1e-4); 0 for a group of equal rewards."""
    by_group: dict[str, list[float]] = {}
    for reward, group in zip(rewards, groups, strict=True):
        by_group.setdefault(group, []).append(reward)
    stats = {g: (statistics.fmean(r), statistics.pstdev(r)) for g, r in by_group.items()}
    return torch.tensor(
        [(r - stats[g][0]) / (stats[g][1] + 1e-4) for r, g in zip(rewards, groups, strict=True)]
    )


def group_varies(rewards: list[float]) -> bool:
    """True when a task's rollouts got different rewards: only then is its advantage non-zero."""
    return len(rewards) > 1 and max(rewards) - min(rewards) > TOLERANCE


def kl_to_reference(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(policy || reference): exp(d) - d - 1 with d = ref - policy;
    never negative, and unbiased for samples drawn from the policy."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


def grpo_loss(
    model: TinyLM,
    reference: TinyLM,
    rows: list[Rendered],
    advantages: torch.Tensor,
    kl_coef: float,
    temperature: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Token-level GRPO loss over ``rows``; only tokens marked ``trained`` (sampled) count."""
    ids, _, trained = batch_tensors(rows)
    mask = trained[:, 1:]
    logp = sequence_logprobs(model, ids, temperature)
    with torch.no_grad():
        ref_logp = sequence_logprobs(reference, ids, temperature)
    kl = kl_to_reference(logp, ref_logp)
    per_token = -advantages[:, None] * logp + kl_coef * kl
    loss = masked_mean(per_token, mask)
    return loss, {"kl": masked_mean(kl, mask).item(), "tokens": int(mask.sum())}


def accumulate_gradients(
    model: TinyLM,
    reference: TinyLM,
    rows: list[Rendered],
    advantages: torch.Tensor,
    config: GRPOConfig,
    threads: Executor,
) -> dict[str, float]:
    """Add the gradient of the token-level GRPO loss over ``rows`` to ``model``'s ``.grad``.

    Each length bucket's gradient is taken on ``threads`` (two buckets side by side with two
    workers) and added in bucket order: bit for bit the sum ``backward()`` bucket after bucket
    makes (``tests/test_local_grpo.py``). Returns the token-weighted KL and loss."""
    total_tokens = sum(sum(r.trained) for r in rows) or 1
    index = {id(r): n for n, r in enumerate(rows)}
    parameters = [p for p in model.parameters() if p.requires_grad]

    def bucket_gradient(bucket: list[Rendered]) -> tuple[tuple, float, float]:
        picked = torch.tensor([index[id(r)] for r in bucket], dtype=torch.long)
        loss, info = grpo_loss(
            model, reference, bucket, advantages[picked], config.kl_coef, config.temperature
        )
        weight = info["tokens"] / total_tokens  # token-level mean over the whole batch
        grads = torch.autograd.grad(loss * weight, parameters, allow_unused=True)
        return grads, info["kl"] * weight, loss.item() * weight

    stats = {"kl": 0.0, "loss": 0.0}
    for grads, kl, loss in threads.map(bucket_gradient, length_buckets(rows, config.batch_tokens)):
        for parameter, grad in zip(parameters, grads, strict=True):
            if grad is None:
                continue
            if parameter.grad is None:
                parameter.grad = grad
            else:
                parameter.grad += grad
        stats["kl"] += kl
        stats["loss"] += loss
    return stats


# -- the trainer ---------------------------------------------------------------------------------
def metric_means(traces: list[Trace], items: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Means over the scored traces: reward, per-grader reward, accuracy, tool calls, sampled
    tokens, and the tool-use patterns ``rftkit.analysis`` measures for any backend (turns, parallel
    turns, calls after the evidence was read, reasoning tokens)."""
    scored = [t for t in traces if t.reward is not None]
    if not scored:
        return {"reward": math.nan, "tool_calls": math.nan, "accuracy": math.nan}
    patterns = pattern_summary(rollout_patterns(scored, items))
    means = {
        "reward": statistics.fmean(t.reward for t in scored),
        "tool_calls": statistics.fmean(t.tool_calls for t in scored),
        "accuracy": statistics.fmean(float(is_correct(t)) for t in scored),
        "completion_tokens": statistics.fmean(_output_tokens(t) for t in scored),
        **{name: float(patterns[label]) for name, label in PATTERN_METRICS.items()},
    }
    errors = {
        "reward": item_standard_error(scored, lambda t: t.reward),
        "accuracy": item_standard_error(scored, lambda t: float(is_correct(t))),
    }
    for name in (scored[0].grader_result or {}).get("sub_rewards", {}):
        score = _sub_reward(name)
        means[f"grader/{name}"] = statistics.fmean(score(t) for t in scored)
        errors[f"grader/{name}"] = item_standard_error(scored, score)
    means.update({f"se/{name}": value for name, value in errors.items()})
    return means


def _sub_reward(name: str) -> Callable[[Trace], float]:
    return lambda t: float(t.grader_result["sub_rewards"][name])


def item_standard_error(traces: list[Trace], value: Callable[[Trace], float]) -> float | None:
    """The standard error of a mean over rollouts with the item as the unit (``mean_se`` of the
    items' means: rollouts of one item share its difficulty, so they are not independent draws);
    None below two items, so the event says "unknown" rather than NaN."""
    values = pd.Series([value(t) for t in traces], dtype=float)
    _, se = mean_se(values.groupby([t.item_id for t in traces]).mean())
    return None if math.isnan(se) else se


def _output_tokens(trace: Trace) -> int:
    return sum(
        s.span_data.usage.output_tokens
        for s in trace.spans
        if s.span_data.type == "generation" and s.span_data.usage is not None
    )


class GRPOTrainer:
    """Runs GRPO from a base model on a task's lines, tools and grader; ``events`` fills as it goes.

    Example::

        trainer = GRPOTrainer(GRPOConfig(steps=8), model, tokenizer, "runs/grpo",
                              train_items=items, valid_items=valid, tools=job_tools, grader=g)
        trainer.run()
        trainer.events[-1]["data"]["scores"]["valid_reward_mean"]
    """

    def __init__(
        self,
        config: GRPOConfig,
        model: TinyLM,
        tokenizer: Tokenizer,
        out_dir: str | Path,
        *,
        train_items: list[dict[str, Any]],
        valid_items: list[dict[str, Any]],
        tools: list[JobTool],
        grader: dict[str, Any],
        on_event: Callable[[dict[str, Any]], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        should_abort: Callable[[], bool] = lambda: False,
    ):
        if not train_items:
            raise ValueError("no training lines: GRPO needs at least one task to roll out")
        self.config = config
        self.step = 0
        self.start_from(model, tokenizer)
        self.grader, self.tools = grader, tools
        self.items, self.valid_items = train_items, valid_items
        self.requests: dict[str, Counter[str]] = {}
        """Requests the task's tool URLs answered, per phase (triage, training, validation)
        and tool: counted where they are sent (``rftkit.rollouts.toolcalls``)."""
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.events: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.on_event = on_event
        self.should_stop = should_stop
        self.should_abort = should_abort
        self._emit_lock = threading.Lock()  # a job's own thread and its API both emit
        self.cpu_seconds = 0.0  # this process's CPU time in triage and steps (all threads)
        self._cpu_start = 0.0
        # long-lived, like the policy's generation threads (each new thread's malloc arena)
        self._loss_threads = ThreadPoolExecutor(config.workers, thread_name_prefix="grpo-loss")
        self.train_items: list[dict[str, Any]] = []  # the lines triage kept

    def start_from(self, model: TinyLM, tokenizer: Tokenizer) -> None:
        """Train ``model`` (with its ``tokenizer``) from here on, and keep it as the KL reference:
        the base model, or one warm-started before the first step (``rftkit.local.warmstart``)."""
        if self.step:
            raise RuntimeError("the starting model is set before the first step, not after")
        self.model, self.tokenizer = model, tokenizer
        self.reference = copy.deepcopy(model).eval()
        for parameter in self.reference.parameters():
            parameter.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=self.config.lr, betas=(0.9, 0.99), weight_decay=0.0
        )
        self.policy = LocalModelPolicy(
            model,
            tokenizer,
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            seed=self.config.seed,
            cache_across_turns=self.config.cache_across_turns,
            workers=self.config.workers,
        )

    def requests_reached(self) -> int:
        """How many requests the task's tool URLs answered in this run, all phases."""
        return sum(sum(counts.values()) for counts in self.requests.values())

    # events in the fine_tuning.job.event shape
    def emit(self, message: str, data: dict[str, Any] | None = None, level: str = "info") -> None:
        with self._emit_lock:
            event = job_event(f"ftevent-local-{len(self.events) + 1}", message, data, level)
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def run(self, progress: bool = True) -> list[dict[str, Any]]:
        """Triage, then ``steps`` GRPO steps with validation; returns the events.

        ``should_stop`` is asked between steps (pause: the run can go on); ``should_abort`` while
        rollouts run (cancel: the step under way is dropped and :class:`Aborted` raised).
        Raises NothingToLearn when no task's rollouts got different rewards."""
        tune_malloc()
        torch.manual_seed(self.config.seed)
        torch.set_num_threads(self.config.threads)
        cfg = self.config
        self._cpu_start = time.process_time() - self.cpu_seconds
        if not self.train_items:  # a resumed run keeps its tasks
            self.triage()
        validated = any(e["data"].get("step") == 0 for e in self.events if e["type"] == "metrics")
        if self.step == 0 and cfg.validate_base and self.valid_items and not validated:
            self.validate_start()
        bar = tqdm(total=cfg.steps, initial=self.step, desc="grpo", disable=not progress)
        try:
            while self.step < cfg.steps and not self.should_stop():
                self.train_step()
                bar.update(1)
                last = self.events[-1]["data"]
                bar.set_postfix(reward=f"{last['train_mean_reward']:.3f}", refresh=False)
        finally:
            bar.close()
        return self.events

    def _rollouts(self, items: list[dict[str, Any]], repeats: int, phase: str) -> list[Trace]:
        cfg = self.config
        if self.should_abort():
            raise Aborted("stopped before the rollouts")
        reached = self.requests.setdefault(phase, Counter())
        return asyncio.run(
            self._abortable(
                rollout_items(
                    self.policy,
                    items,
                    self.tools,
                    self.grader,
                    repeats,
                    cfg.max_episode_steps,
                    reached,
                )
            )
        )

    async def _abortable(self, work: Any) -> list[Trace]:
        """Await ``work``, asking ``should_abort`` every ABORT_POLL_S; on yes, cancel it."""
        task = asyncio.ensure_future(work)
        while not (await asyncio.wait({task}, timeout=ABORT_POLL_S))[0]:
            if self.should_abort():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                self.policy.records.clear()
                raise Aborted("stopped during the rollouts; they were dropped")
        return task.result()

    def triage(self) -> None:
        """Keep the tasks whose base-model rewards differ between rollouts (learnable).

        Two rollouts of every task first; only the tasks whose two rewards were equal get the
        rest of ``triage_repeats``. A task whose first two rewards differ is kept whatever a third
        says, so this keeps exactly the tasks that ``triage_repeats`` rollouts of each would, for
        fewer rollouts. The streams those saved rollouts would have drawn are skipped, so every
        later rollout samples exactly as after a full triage."""
        cfg = self.config
        tried = self.items[: cfg.triage_tasks] if cfg.triage_tasks else self.items
        started = time.perf_counter()
        ids = [item_id_of(item, n) for n, item in enumerate(tried)]
        first = min(2, cfg.triage_repeats)
        rewards = self._triage_rewards(tried, ids, first)
        tied = [n for n, i in enumerate(ids) if not group_varies(rewards[i])]
        rest = cfg.triage_repeats - first
        if rest and tied:
            more = self._triage_rewards([tried[n] for n in tied], [ids[n] for n in tied], rest)
            for i, extra in more.items():
                rewards[i] += extra
        if rest:
            self.policy.skip_streams([item for n, item in enumerate(tried) if n not in tied], rest)
        # A group teaches GRPO something when its rewards differ. For a [0, 1] reward that is the
        # "learnable" bucket; a reward that can go negative (the flat per-call cost) also varies
        # on tasks the model always gets wrong, which bucket_of counts as "always_0".
        kept = {i for i, r in rewards.items() if group_varies(r)}
        self.train_items = [item for i, item in zip(ids, tried, strict=True) if i in kept]
        dropped = [bucket_of(r) for i, r in rewards.items() if i not in kept]
        counts = {b: dropped.count(b) for b in sorted(set(dropped))}
        scored = sum(len(r) for r in rewards.values())
        detail = ", ".join(f"{b} {n}" for b, n in counts.items()) or "none"
        rolled = len(tried) * first + len(tied) * rest
        which = (
            f"rollouts got different rewards ({first} each, {rest} more for the {len(tied)} whose"
            f" first {first} were equal)"
            if rest
            else f"{first} rollouts got different rewards"
        )
        self.emit(
            f"Learnability triage: {len(self.train_items)} of {len(tried)} tasks kept, those whose"
            f" {which}; {scored} of {rolled} rollouts were scored; not kept: {detail}"
            f" ({time.perf_counter() - started:.1f} s)"
        )
        if not self.train_items:
            reason = (
                "no rollout was scored (every one was discarded or timed out: check the tool URLs "
                "and the grader)"
                if scored == 0
                else f"every task's rollouts got equal rewards ({detail}), so every advantage is 0"
            )
            raise NothingToLearn(f"nothing to learn: {reason}")

    def _triage_rewards(
        self, items: list[dict[str, Any]], ids: list[str | None], repeats: int
    ) -> dict[str | None, list[float]]:
        """The scored rewards of ``repeats`` rollouts of each item, by the item's id."""
        traces = self._rollouts(items, repeats, "triage")
        self.policy.records.clear()
        # a line without a task_id is named by its position in this call, not in the task
        local_ids = [item_id_of(item, n) for n, item in enumerate(items)]
        rename = dict(zip(local_ids, ids, strict=True))
        rewards: dict[str | None, list[float]] = {i: [] for i in ids}
        for trace in traces:
            if trace.reward is not None:
                rewards[rename[trace.item_id]].append(trace.reward)
        return rewards

    def train_step(self) -> None:
        cfg = self.config
        started = time.perf_counter()
        rng = torch.Generator().manual_seed(cfg.seed * 100_003 + self.step)
        picks = torch.randperm(len(self.train_items), generator=rng)[: cfg.tasks_per_step]
        chosen = [self.train_items[int(i)] for i in picks]
        # 1. rollouts through the real tool services, 2. rewards from the grader config
        self.model.eval()
        traces = self._rollouts(chosen, cfg.group_size, "training")
        sampled = time.perf_counter()
        usable = [t for t in traces if t.reward is not None and t.trace_id in self.policy.records]
        rows = [self.policy.pop_record(t.trace_id).rendered for t in usable]
        self.policy.records.clear()
        release_free_memory()  # the rollouts' keys and values (rftkit.local.memory)
        # 3. group-normalised advantages
        advantages = group_advantages([t.reward for t in usable], [t.item_id for t in usable])
        # 4. token-level policy gradient + KL, in length buckets; 5. one optimizer step
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        stats = accumulate_gradients(
            self.model, self.reference, rows, advantages, cfg, self._loss_threads
        )
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        if rows:
            self.optimizer.step()
        release_free_memory()  # the loss step's activations
        self.step += 1
        trained = time.perf_counter()
        valid_means = None
        if self.step % cfg.eval_interval == 0 or self.step == cfg.steps:
            valid_means = self.validate()
        done = time.perf_counter()
        self.cpu_seconds = time.process_time() - self._cpu_start
        times = (started, sampled, trained, done)
        self._emit_step(traces, lines_by_id(chosen), stats, valid_means, times)

    def validate_start(self) -> None:
        """Validate the starting model as step 0 and emit it as a metrics event with no training
        figures: the base point every validation curve is read against."""
        started = time.perf_counter()
        valid = self.validate(checkpoint=False)
        done = time.perf_counter()
        self.cpu_seconds = time.process_time() - self._cpu_start
        times = (started, started, started, done)
        self._emit_step([], {}, {"kl": None, "loss": None}, valid, times)

    def validate(self, checkpoint: bool = True) -> dict[str, float]:
        """Each validation line ``valid_repeats`` times at the rollout temperature; a checkpoint
        saved and listed, or (``checkpoint=False``, the starting model) only saved as
        ``step-0.pt`` unless a warm start wrote that file already: the jobs API lists trained
        checkpoints, as a hosted one does."""
        cfg = self.config
        self.model.eval()
        traces = self._rollouts(self.valid_items, cfg.valid_repeats, "validation")
        self.policy.records.clear()
        means = metric_means(traces, lines_by_id(self.valid_items))
        path = self.out_dir / f"step-{self.step}.pt"
        if not checkpoint:  # the starting model: step-0.pt, unless a warm start wrote it already
            if not path.exists():
                self.model.save(path, tokenizer=self.tokenizer.state_dict(), grpo=asdict(cfg))
            return means
        self.model.save(path, tokenizer=self.tokenizer.state_dict(), grpo=asdict(cfg))
        checkpoint = JobCheckpoint(
            id=f"ftckpt-local-{self.step}",
            created_at=int(time.time()),
            step_number=self.step,
            metrics={"valid_reward_mean": means["reward"], "step": self.step},
            path=str(path),
        )
        self.checkpoints.append(checkpoint.record())
        return means

    def _emit_step(self, traces, items, stats, valid_means, times) -> None:
        """One metrics event; step 0 (the starting model, validated) has no training figures."""
        cfg = self.config
        train = metric_means(traces, items) if traces else {}
        started, sampled, trained, done = times
        valid = valid_means or {}
        names = train or valid
        grader_names = [k.removeprefix("grader/") for k in names if k.startswith("grader/")]
        types = {n: g.get("type") for n, g in self.grader.get("graders", {}).items()}
        data = {
            "step": self.step,
            "total_steps": cfg.steps,
            "train_mean_reward": train.get("reward"),
            "train_reward_se": train.get("se/reward"),
            "full_valid_mean_reward": valid.get("reward"),
            "full_valid_reward_se": valid.get("se/reward"),
            "completion_tokens_mean": train.get("completion_tokens"),
            "tool_calls_per_rollout": train.get("tool_calls"),
            "valid_tool_calls_per_rollout": valid.get("tool_calls"),
            "train_accuracy": train.get("accuracy"),
            "valid_accuracy": valid.get("accuracy"),
            "valid_accuracy_se": valid.get("se/accuracy"),
            **{f"{name}_per_rollout": train.get(name) for name in ("turns", "reasoning_tokens")},
            "parallel_turn_share": train.get("parallel_turn_share"),
            "calls_after_evidence": train.get("calls_after_evidence"),
            **{f"valid_{name}": valid.get(name) for name in PATTERN_METRICS},
            "kl": stats["kl"],
            "loss": stats["loss"],
            "rollouts": len(traces),
            "tool_requests_reached": self.requests_reached(),
            "scores": {
                "train_reward_mean": train.get("reward"),
                "valid_reward_mean": valid.get("reward"),
                "graders": [
                    {
                        "name": name,
                        "type": types.get(name),
                        "train_reward_mean": train.get(f"grader/{name}"),
                        "valid_reward_mean": valid.get(f"grader/{name}"),
                        "valid_reward_se": valid.get(f"se/grader/{name}"),
                    }
                    for name in grader_names
                ],
            },
            "timing": {
                "step": {
                    "sampling": sampled - started,
                    "training": trained - sampled,
                    "eval": done - trained,
                    "full_iteration": done - started,
                },
            },
            "cpu_seconds": self.cpu_seconds,
        }
        if train:
            message = f"Step {self.step}/{cfg.steps} , train mean reward={train['reward']:.2f}"
        else:
            message = f"Step {self.step}/{cfg.steps} (the starting model, before training)"
        if valid_means is not None:
            message += f", full validation mean reward={valid['reward']:.2f}"
        self.emit(message, data)
