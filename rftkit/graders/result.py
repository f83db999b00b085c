"""The result of running a grader, shaped exactly like the API's ``graders.run`` response.

``GraderRunResult.model_dump()`` validates as ``openai.types.fine_tuning.alpha.GraderRunResponse``
(tested), so code written against the service reads local results unchanged. A grader that fails
at run time never raises: it scores 0 with one of these flags set, as the service does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from rftkit.errors import RFTKitError


class GraderErrors(BaseModel):
    """The documented error flags of ``metadata.errors`` (docs/hosted-api.md §5.5)."""

    formula_parse_error: bool = False
    sample_parse_error: bool = False
    truncated_observation_error: bool = False
    unresponsive_reward_error: bool = False
    invalid_variable_error: bool = False
    other_error: bool = False
    python_grader_server_error: bool = False
    python_grader_server_error_type: str | None = None
    python_grader_runtime_error: bool = False
    python_grader_runtime_error_details: str | None = None
    model_grader_server_error: bool = False
    model_grader_refusal_error: bool = False
    model_grader_parse_error: bool = False
    model_grader_server_error_details: str | None = None

    def any(self) -> bool:
        """Whether any flag is set."""
        return any(value is True for value in self.model_dump().values())

    def merge(self, other: GraderErrors) -> None:
        """Set every flag ``other`` sets; the first details string for each kind wins."""
        for field, value in other.model_dump().items():
            if value and not getattr(self, field):
                setattr(self, field, value)


class GraderMetadata(BaseModel):
    name: str
    type: str
    execution_time: float = 0.0
    scores: dict[str, Any] = Field(default_factory=dict)
    token_usage: int | dict[str, Any] | None = None
    """An int in the SDK, an object in the OpenAPI example (docs/hosted-api.md §10): both taken."""
    sampled_model_name: str | None = None
    errors: GraderErrors = Field(default_factory=GraderErrors)
    error_details: list[str] = Field(default_factory=list)
    """rftkit's addition: why each flag was set, for flags the API gives no details field."""
    notes: list[str] = Field(default_factory=list)
    """rftkit's addition: what is not an error but worth knowing, e.g. a reward outside [0, 1]."""


class GraderRunResult(BaseModel):
    """``reward`` in the grader's own range; ``sub_rewards`` per sub-grader key of a ``multi``."""

    reward: float
    sub_rewards: dict[str, Any] = Field(default_factory=dict)
    metadata: GraderMetadata
    model_grader_token_usage_per_model: dict[str, Any] = Field(default_factory=dict)

    @property
    def errors(self) -> GraderErrors:
        return self.metadata.errors

    @property
    def ok(self) -> bool:
        """True when no error flag is set (the reward was computed, not defaulted to 0)."""
        return not self.metadata.errors.any()


class GraderFailure(RFTKitError):
    """Raised inside the engine when a grader cannot produce a score; becomes a flag, never leaks.

    ``flag`` is a boolean field of :class:`GraderErrors`; ``details`` fills its companion string
    field where the API has one (``python_grader_runtime_error_details`` and the like).
    """

    _DETAIL_FIELDS = {
        "python_grader_runtime_error": "python_grader_runtime_error_details",
        "python_grader_server_error": "python_grader_server_error_type",
        "model_grader_server_error": "model_grader_server_error_details",
    }

    def __init__(self, flag: str, details: str) -> None:
        if flag not in GraderErrors.model_fields:
            raise ValueError(f"unknown error flag {flag!r}")
        super().__init__(f"{flag}: {details}")
        self.flag = flag
        self.details = details

    def as_errors(self) -> GraderErrors:
        errors = GraderErrors(**{self.flag: True})
        detail_field = self._DETAIL_FIELDS.get(self.flag)
        if detail_field:
            setattr(errors, detail_field, self.details)
        return errors
