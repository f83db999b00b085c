"""The create-job body for a task, as OpenAI and Microsoft publish it (docs/hosted-api.md §2-§4).

``method.reinforcement`` comes from :meth:`RFTTask.reinforcement_method` (grader, job ``tools``,
``max_episode_steps``, hyperparameters). Azure differences: hyperparameters left on ``"auto"`` are
left out (Azure reads them back as ``-1``), and Azure's ``trainingType`` (``Standard``,
``GlobalStandard``, ``Developer``) is sent when chosen.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from rftkit.jobs.hosted.api import Platform
from rftkit.task import RFTTask, references

TASK_HASH_KEY = "rftkit_task_hash"
TASK_NAME_KEY = "rftkit_task"


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


def header_values(body: Any) -> Iterator[str]:
    """Every header value anywhere in a request body: what must never be shown."""
    if isinstance(body, Mapping):
        for key, value in body.items():
            if key == "headers" and isinstance(value, Mapping):
                yield from (v for v in value.values() if isinstance(v, str))
            else:
                yield from header_values(value)
    elif isinstance(body, list):
        for value in body:
            yield from header_values(value)
