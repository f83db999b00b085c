"""TRL training progress as ``fine_tuning.job.event`` objects in the kit's RFT metrics layout.

The local GRPO trainer (``rftkit.local.grpo.GRPOTrainer._emit_step``) defines the layout; this
callback writes the same keys for a TRL run, so ``rftkit.analysis`` reads it like any other job:
one ``metrics`` event per optimizer step with train reward (and validation reward on evaluation
steps), per-grader rewards, tool calls per rollout, the tool-call error rate, the share of
rollouts without a single successful tool call (the silent failure users report: training on
tool-free rollouts), discarded rollouts, completion tokens, step time, completion tokens per
second over the step and the peak GPU memory of the main process
(``torch.cuda.max_memory_allocated``; None on a CPU).

The numbers come from :class:`~rftkit.trl.rewards.TaskReward`'s record of each rollout, not from
TRL's logs, so they mean what they mean on every backend; with several training processes
each scores its own share and the shares are gathered before the means.
``completion_tokens_mean`` counts TRL's completion ids, which include the tool results' tokens of
a multi-turn rollout. ``kl`` and
``loss`` are TRL's own logged values.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rftkit.protocol import job_event
from rftkit.trl.rewards import ScoredRollout, TaskReward


def rollout_means(rollouts: list[ScoredRollout]) -> dict[str, Any]:
    """Means over a step's rollouts; rewards over the scored ones only (discards are counted)."""
    scored = [r for r in rollouts if not r.discarded]
    calls = sum(r.tool_calls for r in rollouts)
    means: dict[str, Any] = {
        "rollouts": len(rollouts),
        "discarded": len(rollouts) - len(scored),
        "reward": statistics.fmean(r.reward for r in scored) if scored else math.nan,
        "tool_calls": statistics.fmean(r.tool_calls for r in rollouts) if rollouts else math.nan,
        "tool_error_rate": sum(r.failed_tool_calls for r in rollouts) / calls if calls else 0.0,
        "no_successful_call": (
            statistics.fmean(float(r.no_successful_call) for r in rollouts)
            if rollouts
            else math.nan
        ),
        "completion_tokens": (
            statistics.fmean(r.completion_tokens for r in rollouts) if rollouts else math.nan
        ),
        "graders": {},
    }
    for name in sorted({n for r in scored for n in r.sub_rewards}):
        values = [r.sub_rewards[name] for r in scored if name in r.sub_rewards]
        means["graders"][name] = statistics.fmean(values)
    return means


class EventWriter:
    """Appends events to a JSONL file (and a list) as they come, so a running job can be read.

    Event ids are keyed by the optimizer step they belong to (``ftevent-trl-<step>-<n>``). A run
    resumed from ``checkpoint-N`` (``resume_step=N``) keeps the file's events up to step N and
    drops the later ones, which the resumed run writes again: no duplicates, no gaps. ``path``
    None keeps events in memory only (the other processes of a multi-process run)."""

    def __init__(
        self,
        path: str | Path | None,
        on_event: Callable[[dict], None] | None = None,
        resume_step: int = 0,
    ):
        self.path = None if path is None else Path(path)
        self.events: list[dict[str, Any]] = []
        self.on_event = on_event
        self.step = resume_step
        if self.path is not None and self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            old = [json.loads(line) for line in lines if line.strip()]
            self.events = [e for e in old if event_step(e) <= resume_step]
            self.path.write_text(
                "".join(json.dumps(e, allow_nan=False) + "\n" for e in self.events),
                encoding="utf-8",
            )

    def emit(
        self,
        message: str,
        data: dict[str, Any] | None = None,
        level: str = "info",
        step: int | None = None,
    ) -> None:
        step = self.step if step is None else step
        number = 1 + sum(event_step(e) == step for e in self.events)
        safe = None if data is None else _json_safe(data)
        event = job_event(f"ftevent-trl-{step}-{number}", message, safe, level)
        self.events.append(event)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(event, allow_nan=False) + "\n")
        if self.on_event is not None:
            self.on_event(event)


def event_step(event: dict[str, Any]) -> int:
    """The optimizer step an event belongs to, from its id."""
    return int(event["id"].split("-")[2])


class TaskMetricsCallback(TrainerCallback):
    """Writes one metrics event per step; see the module docstring.

    A step's event is held until its evaluation (if any) has run, so validation rewards land in
    the same event as on the local engine.
    """

    def __init__(self, reward: TaskReward, writer: EventWriter, grader: dict[str, Any]):
        self.reward = reward
        self.writer = writer
        self.grader_types = {n: g.get("type") for n, g in (grader.get("graders") or {}).items()}
        self._seen = 0
        self._pending: dict[str, Any] | None = None
        self._step_started = 0.0
        self._eval_started: float | None = None

    def _drain(self, split: str) -> list[ScoredRollout]:
        new = self.reward.rollouts[self._seen :]
        self._seen = len(self.reward.rollouts)
        return _gathered([r for r in new if r.split == split])

    def on_step_begin(self, args, state, control, **kwargs):
        self._flush()
        self._step_started = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if any(k.startswith("eval_") for k in logs) or self._pending is not None:
            return
        if "loss" not in logs and "reward" not in logs:
            return  # the end-of-training summary, not a step
        train = rollout_means(self._drain("train"))
        seconds = time.perf_counter() - self._step_started
        self._pending = {
            "step": state.global_step,
            "total_steps": state.max_steps,
            "train_mean_reward": train["reward"],
            "full_valid_mean_reward": None,
            "completion_tokens_mean": train["completion_tokens"],
            "tool_calls_per_rollout": train["tool_calls"],
            "valid_tool_calls_per_rollout": None,
            "tool_call_error_rate": train["tool_error_rate"],
            "rollouts_without_successful_tool_call": train["no_successful_call"],
            "discarded_rollouts": train["discarded"],
            "rollouts": train["rollouts"],
            "kl": logs.get("kl"),
            "loss": logs.get("loss"),
            "scores": {
                "train_reward_mean": train["reward"],
                "valid_reward_mean": None,
                "graders": [
                    {
                        "name": name,
                        "type": self.grader_types.get(name),
                        "train_reward_mean": value,
                        "valid_reward_mean": None,
                    }
                    for name, value in train["graders"].items()
                ],
            },
            "timing": {"step": {"full_iteration": seconds}},
            "tokens_per_second": train["completion_tokens"] * train["rollouts"] / seconds,
            "peak_memory_gb": _peak_memory_gb(),
        }
        self.writer.step = state.global_step
        if not _evaluates(args, state):  # written before this step's checkpoint is saved
            self._flush()

    def on_prediction_step(self, args, state, control, **kwargs):
        if self._eval_started is None:
            self._eval_started = time.perf_counter()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        valid = rollout_means(self._drain("validation"))
        if self._pending is None:
            return
        self._pending["full_valid_mean_reward"] = valid["reward"]
        self._pending["valid_tool_calls_per_rollout"] = valid["tool_calls"]
        self._pending["scores"]["valid_reward_mean"] = valid["reward"]
        graders = {g["name"]: g for g in self._pending["scores"]["graders"]}
        for name, value in valid["graders"].items():
            graders.setdefault(
                name, {"name": name, "type": self.grader_types.get(name), "train_reward_mean": None}
            )["valid_reward_mean"] = value
        self._pending["scores"]["graders"] = list(graders.values())
        if self._eval_started is not None:
            self._pending["timing"]["step"]["eval"] = time.perf_counter() - self._eval_started
            self._eval_started = None
        self._flush()

    def on_train_end(self, args, state, control, **kwargs):
        self._flush()

    def _flush(self) -> None:
        if self._pending is None:
            return
        data, self._pending = self._pending, None
        reward = _fmt(data["train_mean_reward"])
        message = f"Step {data['step']}/{data['total_steps']} , train mean reward={reward}"
        if data["full_valid_mean_reward"] is not None:
            message += f", full validation mean reward={_fmt(data['full_valid_mean_reward'])}"
        self.writer.emit(message, data, step=data["step"])


def _peak_memory_gb() -> float | None:
    """The most GPU memory this process's tensors have held (None on the CPU)."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 1e9


def _gathered(rollouts: list[ScoredRollout]) -> list[ScoredRollout]:
    """Every process's rollouts of the step (each process scores only its own share). All
    processes log and evaluate together, so they all reach this collective call."""
    from accelerate import PartialState

    if PartialState().num_processes == 1:
        return rollouts
    from accelerate.utils import gather_object

    return gather_object(rollouts)


def _evaluates(args: Any, state: Any) -> bool:
    """Whether ``Trainer`` evaluates after this step (then the event waits for the result)."""
    strategy = getattr(args, "eval_strategy", "no")
    strategy = str(getattr(strategy, "value", strategy))
    steps = getattr(args, "eval_steps", None)
    every = steps if isinstance(steps, int) and steps >= 1 else None
    return strategy == "steps" and every is not None and state.global_step % every == 0


def _json_safe(value: Any) -> Any:
    """NaN (a step whose every rollout was discarded) becomes null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}"
