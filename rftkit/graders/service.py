"""The same grader on OpenAI's ``graders.run``, for parity checks against the local engine.

``run_on_service`` sends exactly what :func:`rftkit.graders.run_grader` takes (the grader dict,
the sample as ``model_sample`` text, the item) and returns the service's answer as a
:class:`GraderRunResult`, so the two can be compared field by field with :func:`differences`.
It needs ``OPENAI_API_KEY`` (or a client) and network; everything else in the package does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import openai

from rftkit.graders.result import GraderRunResult


def run_on_service(
    grader: Mapping[str, Any],
    model_sample: str,
    item: Mapping[str, Any] | None = None,
    *,
    client: openai.OpenAI | None = None,
) -> GraderRunResult:
    """``client.fine_tuning.alpha.graders.run`` as a GraderRunResult (raises on API errors)."""
    client = client or openai.OpenAI()
    raw = client.fine_tuning.alpha.graders.with_raw_response.run(
        grader=dict(grader),  # type: ignore[arg-type]  # endpoint/label graders pass through
        model_sample=model_sample,
        item=dict(item or {}),
    )
    return GraderRunResult.model_validate(raw.http_response.json())


def differences(local: GraderRunResult, remote: GraderRunResult, tol: float = 1e-6) -> list[str]:
    """What differs in reward, sub-rewards and error flags (empty when the two agree)."""
    found = []
    if not math.isclose(local.reward, remote.reward, abs_tol=tol):
        found.append(f"reward: local {local.reward!r} vs service {remote.reward!r}")
    for key in sorted(set(local.sub_rewards) | set(remote.sub_rewards)):
        mine, theirs = local.sub_rewards.get(key), remote.sub_rewards.get(key)
        numbers = isinstance(mine, int | float) and isinstance(theirs, int | float)
        if not (numbers and math.isclose(mine, theirs, abs_tol=tol)) and mine != theirs:
            found.append(f"sub_rewards.{key}: local {mine!r} vs service {theirs!r}")
    for flag, value in local.metadata.errors:
        other = getattr(remote.metadata.errors, flag)
        if isinstance(value, bool) and value != other:
            found.append(f"errors.{flag}: local {value} vs service {other}")
    return found
