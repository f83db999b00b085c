"""Run OpenAI grader configs locally, with the service's semantics and result shape.

Public surface (see each module for the why):

- :func:`run_grader` / :func:`run_grader_async` — grade one sample (``graders.run``);
- :func:`validate_grader` / :class:`GraderValidationError` — check a config (``graders.validate``);
- :class:`GraderRunResult` — the ``graders.run`` response shape;
- :class:`SandboxLimits` — time, memory and disk limits for ``python`` graders.
"""

from rftkit.graders.engine import run_grader, run_grader_async
from rftkit.graders.result import GraderErrors, GraderRunResult
from rftkit.graders.sandbox import SandboxLimits
from rftkit.graders.validate import GraderValidationError, validate_grader

__all__ = [
    "GraderErrors",
    "GraderRunResult",
    "GraderValidationError",
    "SandboxLimits",
    "run_grader",
    "run_grader_async",
    "validate_grader",
]
