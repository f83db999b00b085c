"""Whose rules are errors: a dataset check's platform and base model.

OpenAI and Azure state some rules the other does not (a minimum of lines, the last message's role,
image parts for o4-mini). Under a :class:`Profile` naming a platform, that platform's own rules are
errors; with no platform they are warnings (``rftkit.data.validate`` lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from rftkit.data.findings import Severity

Platform = Literal["openai", "azure"]


@dataclass(frozen=True)
class Profile:
    """Whose rules are errors: ``platform`` (a task's) and ``model`` (the base model), if known."""

    platform: Platform | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.platform not in (None, *get_args(Platform)):
            raise ValueError(f"platform must be one of {get_args(Platform)}, not {self.platform!r}")

    def severity(self, platform: Platform) -> Severity:
        """A rule ``platform`` states: an error under that platform's profile, else a warning."""
        return Severity.ERROR if self.platform == platform else Severity.WARNING

    def image_severity(self) -> Severity | None:
        """o4-mini takes no image parts; None when the model is known to take them."""
        if self.model is None:
            return Severity.WARNING
        if not self.model.startswith("o4-mini"):
            return None
        return Severity.ERROR if self.platform is not None else Severity.WARNING
