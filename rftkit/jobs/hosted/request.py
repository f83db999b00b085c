"""The create-job body for a task, as OpenAI and Microsoft publish it (docs/hosted-api.md §2-§4).

``method.reinforcement`` comes from :meth:`RFTTask.reinforcement_method` (grader,
``response_format``, job ``tools`` and, with them only, ``max_episode_steps``, hyperparameters).
Azure differences: hyperparameters left on ``"auto"`` are left out (Azure reads them back as
``-1``), and Azure's ``trainingType`` (``Standard``, ``GlobalStandard``, ``Developer``) is sent
when chosen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rftkit.jobs.hosted.api import Platform
from rftkit.secrets import header_values, references
from rftkit.task import RFTTask

TASK_HASH_KEY = "rftkit_task_hash"
TASK_NAME_KEY = "rftkit_task"
LAUNCH_KEY = "rftkit_launch"
"""A fresh id per launch, so a create that failed can be told apart from an earlier job."""


def uses_agent_rft(task: RFTTask) -> bool:
    """True when the task needs Agent RFT: job-level tools or an endpoint grader."""

    def endpoint(grader: Any) -> bool:
        return isinstance(grader, dict) and (
            grader.get("type") == "endpoint"
            or any(endpoint(g) for g in (grader.get("graders") or {}).values())
        )

    return bool(task.tools) or endpoint(task.grader)


def create_body(
    task: RFTTask,
    env: Mapping[str, str] | None,
    platform: Platform,
    *,
    training_file: str,
    validation_file: str | None,
    training_type: str | None = None,
) -> dict[str, Any]:
    """The POST ``fine_tuning/jobs`` body; header values resolved from ``env``."""
    method = task.reinforcement_method(env)
    hyper = method["reinforcement"].get("hyperparameters")
    if platform == "azure" and hyper:
        kept = {k: v for k, v in hyper.items() if v != "auto"}
        method["reinforcement"]["hyperparameters"] = kept
    body: dict[str, Any] = {
        "model": task.model,
        "training_file": training_file,
        "method": method,
        "metadata": {TASK_HASH_KEY: task.content_hash(), TASK_NAME_KEY: task.name[:512]},
    }
    if validation_file is not None:
        body["validation_file"] = validation_file
    if task.suffix is not None:
        body["suffix"] = task.suffix
    if task.seed is not None:
        body["seed"] = task.seed
    if platform == "azure" and training_type is not None:
        body["trainingType"] = training_type
    return body


def secret_values(task: RFTTask, env: Mapping[str, str] | None) -> list[str]:
    """What must never be shown for ``task``: each resolved header value and each environment
    value a header references on its own (a platform may echo either)."""
    env = os.environ if env is None else env
    templates = list(header_values(task.reinforcement_method(redact=False, env=env)))
    raw = list(header_values({"tools": [t.model_dump() for t in task.tools], "g": task.grader}))
    named = [env[name] for value in raw for name in references(value) if env.get(name)]
    return sorted(set(templates + named), key=len, reverse=True)

