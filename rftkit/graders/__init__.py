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

from rftkit._util.lazy import lazy_exports

# Lazy (as rftkit.data's): the sandbox's fork server is rftkit.graders._sandbox_zygote, and
# starting it must not import the engine, httpx and openai first.
_EXPORTS = {
    "run_grader": "rftkit.graders.engine",
    "run_grader_async": "rftkit.graders.engine",
    "run_grader_many": "rftkit.graders.engine",
    "run_grader_many_async": "rftkit.graders.engine",
    "check_metric_rewards_references": "rftkit.graders.reference_check",
    "GraderErrors": "rftkit.graders.result",
    "GraderRunResult": "rftkit.graders.result",
    "SandboxLimits": "rftkit.graders.sandbox",
    "GraderValidationError": "rftkit.graders.validate",
    "GraderValidationWarning": "rftkit.graders.validate",
    "grader_warnings": "rftkit.graders.validate",
    "validate_grader": "rftkit.graders.validate",
}
"""Each public name and the submodule that defines it (imported on first use)."""

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
__getattr__ = lazy_exports(__name__, _EXPORTS)
