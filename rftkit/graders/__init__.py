"""Run OpenAI grader configs locally, with the service's semantics and result shape.

Public surface (see each module for the why):

- :func:`run_grader` / :func:`run_grader_async` — grade one sample (``graders.run``);
- :func:`run_grader_many` / :func:`run_grader_many_async` — grade many, python graders batched;
- :func:`validate_grader` / :class:`GraderValidationError` — check a config (``graders.validate``);
  :func:`grader_warnings` / :class:`GraderValidationWarning` — what the service accepts but
  probably not as meant;
- :func:`check_metric_rewards_references` — can a ``text_similarity`` metric reward the
  dataset's own reference answers (BLEU on short answers cannot);
- :class:`GraderRunResult` — the ``graders.run`` response shape;
- :class:`SandboxLimits` — time, memory and disk limits for ``python`` graders.
"""

from rftkit.graders.engine import (
    run_grader,
    run_grader_async,
    run_grader_many,
    run_grader_many_async,
)
from rftkit.graders.reference_check import check_metric_rewards_references
from rftkit.graders.result import GraderErrors, GraderRunResult
from rftkit.graders.sandbox import SandboxLimits
from rftkit.graders.validate import (
    GraderValidationError,
    GraderValidationWarning,
    grader_warnings,
    validate_grader,
)

__all__ = [
    "GraderErrors",
    "GraderRunResult",
    "GraderValidationError",
    "GraderValidationWarning",
    "SandboxLimits",
    "check_metric_rewards_references",
    "grader_warnings",
    "run_grader",
    "run_grader_async",
    "run_grader_many",
    "run_grader_many_async",
    "validate_grader",
]
