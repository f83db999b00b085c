"""The models the local API serves: the base model and every fine-tuned model and checkpoint.

``rftkit-tinylm-base`` is the committed base checkpoint; ``ft:rftkit-tinylm-base:local:…`` is a
succeeded job's last checkpoint and ``…:ckpt-step-N`` any checkpoint a job wrote (usable while
the job still runs, as the service's checkpoints are). Each model answers through one
long-lived :class:`~rftkit.local.policy.LocalModelPolicy` per (model, temperature, top-p), the
same class the trainer samples rollouts with, so a served turn is exactly a rollout's turn.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from rftkit.api.errors import APIError
from rftkit.api.job_store import JobStore, checkpoint_model
from rftkit.local.checkpoint import BASE_CHECKPOINT, BASE_MODEL, load_model
from rftkit.local.policy import LocalModelPolicy

CACHED_POLICIES = 8


def model_not_found(model: str) -> APIError:
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


class ModelRegistry:
    """Model ids to checkpoints, and a small cache of loaded policies."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self._policies: OrderedDict[tuple[str, float, float], LocalModelPolicy] = OrderedDict()
        self._lock = threading.Lock()

    def checkpoint(self, model: str) -> Path:
        if model == BASE_MODEL:
            return BASE_CHECKPOINT
        path = self.jobs.checkpoint_path(model) if model.startswith("ft:") else None
        if path is None:
            raise model_not_found(model)
        return path

    def policy(self, model: str, sampling: tuple[float, float]) -> LocalModelPolicy:
        """The policy answering for ``model`` at ``sampling``'s temperature and top-p (loaded on
        first use)."""
        temperature, top_p = sampling
        key = (model, temperature, top_p)
        path = self.checkpoint(model)
        with self._lock:
            if key in self._policies:
                self._policies.move_to_end(key)
                return self._policies[key]
        weights, tokenizer = load_model(path)
        policy = LocalModelPolicy(
            weights, tokenizer, temperature=temperature, top_p=top_p, name=model
        )
        with self._lock:
            self._policies[key] = policy
            while len(self._policies) > CACHED_POLICIES:
                self._policies.popitem(last=False)
        return policy

    def listing(self) -> list[dict[str, Any]]:
        """``model`` objects: the base, then each job's model and checkpoints."""
        models = [_model(BASE_MODEL, int(BASE_CHECKPOINT.stat().st_mtime), "rftkit")]
        for server_job in list(self.jobs.jobs.values()):
            job = server_job.job
            if job.fine_tuned_model:
                models.append(_model(job.fine_tuned_model, job.finished_at or job.created_at))
            models += [_model(checkpoint_model(job, c), c["created_at"]) for c in job.checkpoints()]
        return models


def _model(model_id: str, created: int, owned_by: str = "user-rftkit-local") -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def registry(request: Request) -> ModelRegistry:
    return request.app.state.rftkit.models


router = APIRouter(prefix="/v1/models")


@router.get("")
def list_models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": registry(request).listing()}


@router.get("/{model:path}")
def retrieve(request: Request, model: str) -> dict[str, Any]:
    for entry in registry(request).listing():
        if entry["id"] == model:
            return entry
    raise model_not_found(model)
