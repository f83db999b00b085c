"""GRPO on the local model, with real tool calls over HTTP and real graders (read top to bottom).

One step:
1. **rollouts** — ``tasks_per_step`` training tasks, ``group_size`` rollouts each (the counterpart
   of ``compute_multiplier``), run by ``rftkit.rollouts.run_rollouts`` against the tool service
   under uvicorn, each rollout with its own ``trace_id``;
2. **reward** — the grader config (``rftkit.graders``) scores each rollout's final sample;
3. **advantage** — each reward minus its group's mean, over the group's standard deviation;
4. **loss** — token-level policy gradient on the tokens the model sampled (tool outputs and the
   question are masked out) plus a KL penalty to the frozen base model (the k3 estimator);
5. **step** — one AdamW update per batch of rollouts (on-policy, so no ratio clipping is needed).

Before training, *learnability triage* keeps the tasks whose rewards differ between rollouts of
the base model (``rftkit.baseline.bucket_of``): a group of equal rewards has zero advantage and
teaches nothing. Every ``eval_interval`` steps the policy is validated on tasks from worlds it
never trained on, a checkpoint is written, and each step emits a ``fine_tuning.job.event`` in the
RFT metrics layout (reference §6.3), so the same analysis code reads local and hosted jobs.
"""

from __future__ import annotations

import asyncio
import copy
import math
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from rftkit.baseline import TOLERANCE, bucket_of
from rftkit.data import build_dataset
from rftkit.local.model import TinyLM, masked_mean, sequence_logprobs
from rftkit.local.policy import LocalModelPolicy
from rftkit.local.pretrain import batch_tensors, length_buckets
from rftkit.local.rewards import REWARDS
from rftkit.local.tokenizer import Rendered, Tokenizer
from rftkit.local.worlds import GRPO_SEEDS, VALID_SEEDS, build_world, world_seeds
from rftkit.protocol import Trace
from rftkit.rollouts import run_rollouts
from rftkit.rollouts.traces import is_correct
from rftkit.serving import serve_in_background
from rftkit.world import Task
from tools_service.app import create_app

TOOL_NAMES = ("search", "list_files", "read_file", "calculator")


@dataclass
class GRPOConfig:
    """The demo's defaults, chosen on tuning worlds (seeds 2500+), never on the held-out ones:
    24 steps fit the 5-CPU-minute budget, 96 triaged tasks keep the policy from over-fitting a
    handful, and temperature 1 samples the model's own distribution (accuracy 33% there)."""

    steps: int = 24
    tasks_per_step: int = 8
    group_size: int = 6  # rollouts per task: the counterpart of compute_multiplier
    lr: float = 3e-4
    kl_coef: float = 0.04
    temperature: float = 1.0
    max_episode_steps: int = 12
    reward: str = "course"  # or "flat_cost" for the reward-hacking lesson
    train_worlds: int = 3
    triage_tasks: int = 96
    triage_repeats: int = 3
    valid_worlds: int = 2
    valid_tasks_per_world: int = 20
    eval_interval: int = 8
    seed: int = 0
    threads: int = 1
    batch_tokens: int = 8192


# -- the environment: worlds behind real tool services -------------------------------------------
def task_item(task: Task, world_seed: int) -> dict[str, Any]:
    """The course dataset line of a compact-world task, its id prefixed with the world's seed
    (GRPO groups rollouts by task id, and several worlds share ids like ``t0001``)."""
    (line,) = build_dataset([task], style="compact", world_seed=world_seed)
    return {**line, "task_id": f"w{world_seed}-{task.id}"}


@dataclass
class ServedWorld:
    """One world's items and the job ``tools`` config pointing at its running tool service."""

    seed: int
    items: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(repr=False)


@contextmanager
def serve_worlds(seeds: list[int], directory: str | Path) -> Iterator[list[ServedWorld]]:
    """Each world's compact corpus behind its own tool service on loopback, with a fresh token."""
    with ExitStack() as stack:
        served = []
        for seed in seeds:
            local = build_world(seed, directory)
            token = secrets.token_urlsafe(16)
            url = stack.enter_context(serve_in_background(create_app(local.root, token=token)))
            headers = {"Authorization": f"Bearer {token}"}
            tools = [
                {"name": n, "server_url": f"{url}/call", "headers": headers} for n in TOOL_NAMES
            ]
            served.append(ServedWorld(seed, [task_item(t, seed) for t in local.tasks], tools))
        yield served


async def rollout_worlds(
    policy: LocalModelPolicy,
    work: list[tuple[ServedWorld, list[dict[str, Any]]]],
    grader: dict[str, Any],
    repeats: int,
    max_episode_steps: int,
) -> list[Trace]:
    """Rollouts of several worlds at once (one tool service each), so the policy batches them."""
    runs = [
        run_rollouts(
            items,
            policy,
            tools=world.tools,
            grader=grader,
            repeats=repeats,
            max_episode_steps=max_episode_steps,
            concurrency=256,
            progress=False,
        )
        for world, items in work
        if items
    ]
    return [trace for traces in await asyncio.gather(*runs) for trace in traces]


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


# -- the trainer ---------------------------------------------------------------------------------
def metric_means(traces: list[Trace]) -> dict[str, float]:
    """Mean reward, per-grader reward, accuracy, tool calls and sampled tokens of scored traces."""
    scored = [t for t in traces if t.reward is not None]
    if not scored:
        return {"reward": math.nan, "tool_calls": math.nan, "accuracy": math.nan}
    means = {
        "reward": statistics.fmean(t.reward for t in scored),
        "tool_calls": statistics.fmean(t.tool_calls for t in scored),
        "accuracy": statistics.fmean(float(is_correct(t)) for t in scored),
        "completion_tokens": statistics.fmean(_output_tokens(t) for t in scored),
    }
    for name in (scored[0].grader_result or {}).get("sub_rewards", {}):
        means[f"grader/{name}"] = statistics.fmean(
            float(t.grader_result["sub_rewards"][name]) for t in scored
        )
    return means


def _output_tokens(trace: Trace) -> int:
    return sum(
        s.span_data.usage.output_tokens
        for s in trace.spans
        if s.span_data.type == "generation" and s.span_data.usage is not None
    )


class GRPOTrainer:
    """Runs GRPO from a base model; ``run`` yields nothing, ``events`` fills as it goes.

    Example::

        trainer = GRPOTrainer(GRPOConfig(steps=8), model, tokenizer, out_dir="runs/grpo")
        trainer.run()
        trainer.events[-1]["data"]["scores"]["valid_reward_mean"]
    """

    def __init__(
        self,
        config: GRPOConfig,
        model: TinyLM,
        tokenizer: Tokenizer,
        out_dir: str | Path,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        grader: dict[str, Any] | None = None,
    ):
        self.config, self.model, self.tokenizer = config, model, tokenizer
        self.reference = copy.deepcopy(model).eval()
        for parameter in self.reference.parameters():
            parameter.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=0.0
        )
        self.grader = grader if grader is not None else REWARDS[config.reward]()
        self.policy = LocalModelPolicy(
            model, tokenizer, temperature=config.temperature, seed=config.seed
        )
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.events: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.on_event = on_event
        self.should_stop = should_stop
        self.step = 0
        self.cpu_seconds = 0.0  # this process's CPU time in triage and steps (all threads)
        self._cpu_start = 0.0
        self.train_items: list[tuple[int, dict[str, Any]]] = []  # (world seed, item)

    # events in the fine_tuning.job.event shape
    def emit(self, message: str, data: dict[str, Any] | None = None, level: str = "info") -> None:
        event = {
            "id": f"ftevent-local-{len(self.events) + 1}",
            "object": "fine_tuning.job.event",
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "type": "metrics" if data is not None else "message",
            "data": data or {},
        }
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def run(self, progress: bool = True) -> list[dict[str, Any]]:
        """Triage, then ``steps`` GRPO steps with validation; returns the events."""
        torch.manual_seed(self.config.seed)
        torch.set_num_threads(self.config.threads)
        cfg = self.config
        self._cpu_start = time.process_time() - self.cpu_seconds
        with tempfile.TemporaryDirectory() as directory:
            train_seeds = world_seeds(GRPO_SEEDS, cfg.train_worlds)
            valid_seeds = world_seeds(VALID_SEEDS, cfg.valid_worlds)
            with (
                serve_worlds(train_seeds, directory) as train,
                serve_worlds(valid_seeds, directory) as valid,
            ):
                if not self.train_items:  # a resumed run keeps its tasks
                    self.triage(train)
                bar = tqdm(total=cfg.steps, initial=self.step, desc="grpo", disable=not progress)
                while self.step < cfg.steps and not self.should_stop():
                    self.train_step(train, valid)
                    bar.update(1)
                    last = self.events[-1]["data"]
                    bar.set_postfix(reward=f"{last['train_mean_reward']:.3f}", refresh=False)
                bar.close()
        return self.events

    def triage(self, worlds: list[ServedWorld]) -> None:
        """Keep the tasks whose base-model rewards differ between rollouts (learnable)."""
        cfg = self.config
        per_world = max(1, cfg.triage_tasks // len(worlds))
        work = [(w, w.items[:per_world]) for w in worlds]
        started = time.perf_counter()
        traces = asyncio.run(
            rollout_worlds(
                self.policy, work, self.grader, cfg.triage_repeats, cfg.max_episode_steps
            )
        )
        self.policy.records.clear()
        rewards: dict[str, list[float]] = {}
        for trace in traces:
            if trace.reward is not None:
                rewards.setdefault(trace.item_id, []).append(trace.reward)
        buckets = {item_id: bucket_of(r) for item_id, r in rewards.items()}
        by_id = {item["task_id"]: (world.seed, item) for world, items in work for item in items}
        # A group teaches GRPO something when its rewards differ. For a [0, 1] reward that is the
        # "learnable" bucket; a reward that can go negative (the flat per-call cost) also varies
        # on tasks the model always gets wrong, which bucket_of counts as "always_0".
        self.train_items = [by_id[i] for i, r in rewards.items() if group_varies(r)]
        if not self.train_items:  # nothing varies: fall back to every task tried
            self.train_items = list(by_id.values())
        counts = {b: list(buckets.values()).count(b) for b in sorted(set(buckets.values()))}
        self.emit(
            f"Learnability triage: {len(self.train_items)} of {len(buckets)} tasks kept (rewards"
            f" differ between rollouts; buckets {counts}) in {time.perf_counter() - started:.1f} s"
        )

    def train_step(self, train: list[ServedWorld], valid: list[ServedWorld]) -> None:
        cfg = self.config
        started = time.perf_counter()
        rng = torch.Generator().manual_seed(cfg.seed * 100_003 + self.step)
        picks = torch.randperm(len(self.train_items), generator=rng)[: cfg.tasks_per_step]
        chosen = [self.train_items[int(i)] for i in picks]
        work = [(w, [item for seed, item in chosen if seed == w.seed]) for w in train]
        # 1. rollouts through the real tool services, 2. rewards from the grader config
        self.model.eval()
        traces = asyncio.run(
            rollout_worlds(self.policy, work, self.grader, cfg.group_size, cfg.max_episode_steps)
        )
        sampled = time.perf_counter()
        usable = [t for t in traces if t.reward is not None and t.trace_id in self.policy.records]
        rows = [self.policy.pop_record(t.trace_id).rendered for t in usable]
        self.policy.records.clear()
        # 3. group-normalised advantages
        advantages = group_advantages([t.reward for t in usable], [t.item_id for t in usable])
        # 4. token-level policy gradient + KL, in length buckets; 5. one optimizer step
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        total_tokens = sum(sum(r.trained) for r in rows) or 1
        stats = {"kl": 0.0, "loss": 0.0}
        index = {id(r): n for n, r in enumerate(rows)}
        for bucket in length_buckets(rows, cfg.batch_tokens):
            picked = torch.tensor([index[id(r)] for r in bucket], dtype=torch.long)
            loss, info = grpo_loss(
                self.model, self.reference, bucket, advantages[picked], cfg.kl_coef, cfg.temperature
            )
            weight = info["tokens"] / total_tokens  # token-level mean over the whole batch
            (loss * weight).backward()
            stats["kl"] += info["kl"] * weight
            stats["loss"] += loss.item() * weight
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        if rows:
            self.optimizer.step()
        self.step += 1
        trained = time.perf_counter()
        valid_means = None
        if self.step % cfg.eval_interval == 0 or self.step == cfg.steps:
            valid_means = self.validate(valid)
        done = time.perf_counter()
        self.cpu_seconds = time.process_time() - self._cpu_start
        self._emit_step(traces, stats, valid_means, (started, sampled, trained, done))

    def validate(self, valid: list[ServedWorld]) -> dict[str, float]:
        """Held-out-world tasks once each at the rollout temperature; then a checkpoint."""
        cfg = self.config
        work = [(w, w.items[: cfg.valid_tasks_per_world]) for w in valid]
        self.model.eval()
        traces = asyncio.run(
            rollout_worlds(self.policy, work, self.grader, 1, cfg.max_episode_steps)
        )
        self.policy.records.clear()
        means = metric_means(traces)
        path = self.out_dir / f"step-{self.step}.pt"
        self.model.save(path, tokenizer=self.tokenizer.state_dict(), grpo=asdict(cfg))
        self.checkpoints.append(
            {
                "id": f"ftckpt-local-{self.step}",
                "object": "fine_tuning.job.checkpoint",
                "created_at": int(time.time()),
                "step_number": self.step,
                "path": str(path),
                "metrics": {"valid_reward_mean": means["reward"], "step": self.step},
            }
        )
        return means

    def _emit_step(self, traces, stats, valid_means, times) -> None:
        cfg = self.config
        train = metric_means(traces)
        started, sampled, trained, done = times
        grader_names = [k.removeprefix("grader/") for k in train if k.startswith("grader/")]
        types = {n: g.get("type") for n, g in self.grader.get("graders", {}).items()}
        valid = valid_means or {}
        data = {
            "step": self.step,
            "total_steps": cfg.steps,
            "train_mean_reward": train["reward"],
            "full_valid_mean_reward": valid.get("reward"),
            "completion_tokens_mean": train.get("completion_tokens"),
            "tool_calls_per_rollout": train["tool_calls"],
            "valid_tool_calls_per_rollout": valid.get("tool_calls"),
            "train_accuracy": train["accuracy"],
            "valid_accuracy": valid.get("accuracy"),
            "kl": stats["kl"],
            "loss": stats["loss"],
            "rollouts": len(traces),
            "scores": {
                "train_reward_mean": train["reward"],
                "valid_reward_mean": valid.get("reward"),
                "graders": [
                    {
                        "name": name,
                        "type": types.get(name),
                        "train_reward_mean": train[f"grader/{name}"],
                        "valid_reward_mean": valid.get(f"grader/{name}"),
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
        message = f"Step {self.step}/{cfg.steps} , train mean reward={train['reward']:.2f}"
        if valid_means is not None:
            message += f", full validation mean reward={valid['reward']:.2f}"
        self.emit(message, data)
