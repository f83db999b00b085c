"""A served TRL checkpoint evaluated like any hosted model: the kit's baseline on the task.

The checkpoint is behind vLLM's OpenAI-compatible API (``rftkit.trl.modal_app.serve``), so the
rollout engine drives it through :class:`~rftkit.rollouts.openai_policy.OpenAICompatiblePolicy`,
against the task's own tool URLs and grader, and the traces feed ``rftkit.analysis`` unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from openai import AsyncOpenAI

from rftkit.evaluation.baseline import Baseline, run_baseline_sync
from rftkit.rollouts.openai_policy import OpenAICompatiblePolicy
from rftkit.task import RFTTask


def evaluate_served(
    task: RFTTask,
    base_url: str,
    model: str,
    api_key: str,
    *,
    split: Literal["train", "validation"] = "validation",
    k: int = 4,
    env: Mapping[str, str] | None = None,
) -> Baseline:
    """``k`` rollouts of every line of ``split`` by the served ``model``, graded by the task."""
    policy = OpenAICompatiblePolicy(AsyncOpenAI(base_url=base_url, api_key=api_key), model)
    items = task.items(split)
    if not items:
        raise ValueError(f"the task has no {split} lines to evaluate on")
    return run_baseline_sync(
        items,
        policy,
        tools=task.job_tools(env),
        grader=task.resolved_grader(env),
        k=k,
        max_episode_steps=task.max_episode_steps or 10,
    )
