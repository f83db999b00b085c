"""Python grader sources: each module is self-contained (standard library only) and defines
``grade(sample, item) -> float``; :func:`python_grader` embeds one with ``inspect.getsource``, so
the code that is tested is the code a job submits (the course's graders,
:mod:`rftkit.course.grader`, and a generated project's are built this way)."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

from rftkit.graders.sources import call_count


def python_grader(name: str, module: ModuleType) -> dict[str, Any]:
    """A ``python`` grader whose source is ``module``'s file (which must define ``grade``)."""
    return {"type": "python", "name": name, "source": inspect.getsource(module)}


CALL_COUNT_SOURCE = inspect.getsource(call_count)
"""A python grader source counting the rollout's tool calls (a reward term of its own, e.g. the
course's flat-cost reward)."""
