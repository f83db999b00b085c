"""Rewards for TRL from the task's grader config, the sample built as every other backend builds it.

Each rollout's sample is ``Sample.from_text(final assistant text, every tool call it made)``, the
same construction as the rollout engine's (``rftkit.rollouts.engine``), and ``item`` is the whole
dataset line. Then:

- a grader with an ``endpoint`` grader anywhere in it: each rollout goes through
  :func:`rftkit.rollouts.grading.grade` with *its* ``trace_id`` (so the endpoint can read the tool
  service's log of that rollout), retried and discarded as the hosted trainer does;
- any other grader config: one batched :func:`rftkit.graders.run_grader_many` call per step (each
  python grader's source loads once for the whole batch); a result flagged
  ``unresponsive_reward_error`` is discarded, like the engine does.

A discarded rollout gets the reward None, which TRL masks out (see :mod:`rftkit.trl.environment`).
Every scored or discarded rollout is appended to ``TaskReward.rollouts`` for the metrics callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from rftkit._util.background import BackgroundLoop
from rftkit.graders import run_grader_many
from rftkit.protocol import Sample
from rftkit.rollouts.engine import item_id_of
from rftkit.rollouts.grading import GradeOutcome, grade
from rftkit.trl.environment import Rollout, TaskEnvironment, rollout_of


@dataclass(frozen=True)
class ScoredRollout:
    """What the metrics need from one rollout (reward None: discarded, never scored)."""

    split: str
    trace_id: str
    item_id: str | None
    reward: float | None
    sub_rewards: dict[str, float] = field(default_factory=dict)
    tool_calls: int = 0
    failed_tool_calls: int = 0
    completion_tokens: int = 0
    error: str | None = None

    @property
    def discarded(self) -> bool:
        return self.reward is None

    @property
    def no_successful_call(self) -> bool:
        return self.tool_calls == self.failed_tool_calls


def final_text(completion: Any) -> str:
    """The last assistant message's text (a conversational completion) or the completion itself."""
    if isinstance(completion, str):
        return completion
    for message in reversed(completion or []):
        if message.get("role") == "assistant":
            content = message.get("content") or ""
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
            return str(content)
    return ""


def has_endpoint(grader: Mapping[str, Any]) -> bool:
    """True when ``grader`` is, or (in a ``multi``) contains, an endpoint grader."""
    if grader.get("type") == "endpoint":
        return True
    return grader.get("type") == "multi" and any(
        has_endpoint(sub) for sub in (grader.get("graders") or {}).values()
    )


class TaskReward:
    """The reward function for ``GRPOTrainer(reward_funcs=...)``; needs ``environment_factory``.

    ``grader`` is the task's grader with header references resolved
    (``task.resolved_grader(env)``).
    """

    __name__ = "task_grader"  # TRL names the reward column after it

    def __init__(self, grader: Mapping[str, Any], *, timeout: float = 60.0):
        self.grader = dict(grader)
        self.timeout = timeout
        self.rollouts: list[ScoredRollout] = []
        self._loop = BackgroundLoop("rftkit-trl-grader")
        self._client: httpx.AsyncClient | None = None

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]],
        environments: Sequence[TaskEnvironment] | None = None,
        rft_split: Sequence[str] | None = None,
        **_: Any,
    ) -> list[float | None]:
        if environments is None:
            raise ValueError(
                "TaskReward needs GRPOTrainer(environment_factory=task_environment(...))"
            )
        rollouts = [rollout_of(e) for e in environments]
        samples = [
            Sample.from_text(final_text(c), r.tool_calls)
            for c, r in zip(completions, rollouts, strict=True)
        ]
        live = [i for i, r in enumerate(rollouts) if r.discarded is None]
        outcomes = dict(
            zip(
                live,
                self._grade([rollouts[i] for i in live], [samples[i] for i in live]),
                strict=True,
            )
        )
        splits = list(rft_split) if rft_split is not None else ["train"] * len(rollouts)
        rewards: list[float | None] = []
        for i, rollout in enumerate(rollouts):
            outcome = outcomes.get(i, GradeOutcome(None, None, rollout.discarded))
            rewards.append(outcome.reward)
            self.rollouts.append(_scored(splits[i], rollout, outcome, len(completion_ids[i])))
        return rewards

    def _grade(self, rollouts: list[Rollout], samples: list[Sample]) -> list[GradeOutcome]:
        if not rollouts:
            return []
        if has_endpoint(self.grader):
            return self._loop.run(self._grade_each(rollouts, samples))
        results = run_grader_many(
            self.grader, [(s, r.item) for s, r in zip(samples, rollouts, strict=True)]
        )
        outcomes = []
        for result in results:
            dumped = result.model_dump(mode="json")
            if result.errors.unresponsive_reward_error:
                details = "; ".join(result.metadata.error_details) or "no score"
                outcomes.append(
                    GradeOutcome(None, dumped, f"grader {result.metadata.name}: {details}")
                )
            else:
                outcomes.append(GradeOutcome(float(result.reward), dumped))
        return outcomes

    async def _grade_each(
        self, rollouts: list[Rollout], samples: list[Sample]
    ) -> list[GradeOutcome]:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return await asyncio.gather(
            *(
                grade(self.grader, s, r.item, r.trace_id, self._client, timeout=self.timeout)
                for s, r in zip(samples, rollouts, strict=True)
            )
        )


def _scored(split: str, rollout: Rollout, outcome: GradeOutcome, tokens: int) -> ScoredRollout:
    subs = (outcome.result or {}).get("sub_rewards") or {}
    return ScoredRollout(
        split=split,
        trace_id=rollout.trace_id,
        item_id=item_id_of(rollout.item, None),
        reward=outcome.reward,
        sub_rewards={k: float(v) for k, v in subs.items() if isinstance(v, int | float)},
        tool_calls=len(rollout.calls),
        failed_tool_calls=sum(not c.succeeded for c in rollout.calls),
        completion_tokens=tokens,
        error=outcome.error,
    )
