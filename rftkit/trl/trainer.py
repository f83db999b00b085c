"""A task wired into TRL's GRPOTrainer: its dataset, environment, reward and metrics in one call.

Both the Modal app and the offline wiring test build their trainer here, so what runs on a GPU
is what the test ran on a CPU.

Example::

    run = build_trainer(task, "Qwen/Qwen3-4B-Instruct-2507", None, "runs/trl", env=os.environ)
    run.trainer.train()
    run.writer.events[-1]["data"]["scores"]["train_reward_mean"]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rftkit.rollouts.engine import initial_conversation
from rftkit.task import RFTTask
from rftkit.trl.environment import ITEM_COLUMN, SPLIT_COLUMN, task_environment
from rftkit.trl.hyperparameters import grpo_settings
from rftkit.trl.metrics import EventWriter, TaskMetricsCallback
from rftkit.trl.rewards import TaskReward

EVENTS_FILE = "events.jsonl"
ROLES = {"developer": "system"}
"""Chat templates of open models know ``system``, not the Responses API's ``developer``."""


def task_rows(items: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """Dataset rows: the line's messages as the prompt, the whole line as JSON, the split."""
    return [
        {
            "prompt": [
                {"role": ROLES.get(m["role"], m["role"]), "content": m["content"]}
                for m in initial_conversation(item)
            ],
            ITEM_COLUMN: json.dumps(item, ensure_ascii=False),
            SPLIT_COLUMN: split,
        }
        for item in items
    ]


class TaskGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer with each turn's tool calls started together across rollouts.

    ``GRPOTrainer._tool_call_loop`` (TRL 1.16) calls the tools rollout after rollout; this hands
    the loop's ``completions`` and the batch's environments to the environments' transport, which
    starts every rollout's calls of a turn at the first call (:mod:`rftkit.trl.environment`).
    The loop itself (masking, truncation, re-generation) is TRL's, unchanged."""

    def _tool_call_loop(self, prompts, prompt_ids, completion_ids, completions, *args, **kwargs):
        transport = (
            getattr(type(self.environments[0]), "_transport", None) if self.environments else None
        )
        if transport is None:
            return super()._tool_call_loop(
                prompts, prompt_ids, completion_ids, completions, *args, **kwargs
            )
        with transport.batch(self.environments, completions):
            return super()._tool_call_loop(
                prompts, prompt_ids, completion_ids, completions, *args, **kwargs
            )


@dataclass
class TaskTrainer:
    """The assembled trainer and the parts a caller reads afterwards."""

    trainer: TaskGRPOTrainer
    reward: TaskReward
    writer: EventWriter


def build_trainer(
    task: RFTTask,
    model: Any,
    tokenizer: Any,
    output_dir: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    call_timeout: float = 60.0,
    rollout_timeout: float = 600.0,
    retry_backoff: float = 0.5,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    lora: dict[str, Any] | None = None,
    resume_step: int = 0,
) -> TaskTrainer:
    """GRPOTrainer for ``task`` (model: an id or a loaded model; tokenizer None loads the model's).

    ``overrides`` are ``GRPOConfig`` fields that win over the hyperparameter table
    (:mod:`rftkit.trl.hyperparameters`); ``env`` resolves header references. Events go to
    ``output_dir/events.jsonl`` as they happen. ``lora``: ``peft.LoraConfig`` keyword arguments
    (:meth:`rftkit.trl.jobspec.TRLJobSpec.lora_settings`) to train adapters instead of the model.
    ``resume_step``: the checkpoint a resumed run starts from (its later events are dropped).
    Only the main process of a multi-process run writes the events file.
    """
    from accelerate import PartialState

    settings, notes = grpo_settings(task, overrides)
    args = GRPOConfig(output_dir=str(output_dir), **settings)
    environment = task_environment(
        task,
        env,
        call_timeout=call_timeout,
        rollout_timeout=rollout_timeout,
        retry_backoff=retry_backoff,
    )
    grader = task.resolved_grader(env)
    reward = TaskReward(grader, timeout=call_timeout)
    main = PartialState().is_main_process
    events = Path(output_dir) / EVENTS_FILE if main else None
    writer = EventWriter(events, on_event, resume_step=resume_step)
    if resume_step:
        writer.emit(f"Resumed from checkpoint-{resume_step}")
    for note in notes:
        writer.emit(note, level="warn")
    routes = ", ".join(f"{t.name} -> {t.server_url}" for t in task.tools) or "none"
    writer.emit(f"Rollouts call the task's tools: {routes}")
    valid = task.items("validation")
    trainer = TaskGRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=args,
        train_dataset=Dataset.from_list(task_rows(task.items("train"), "train")),
        eval_dataset=Dataset.from_list(task_rows(valid, "validation")) if valid else None,
        processing_class=tokenizer,
        environment_factory=environment,
        callbacks=[TaskMetricsCallback(reward, writer, grader)],
        peft_config=_lora_config(lora),
    )
    return TaskTrainer(trainer, reward, writer)


def _lora_config(settings: dict[str, Any] | None) -> Any:
    if settings is None:
        return None
    from peft import LoraConfig

    return LoraConfig(**settings)
