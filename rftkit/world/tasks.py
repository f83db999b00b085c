"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.world.tasks`."""

import warnings

from rftkit.course.world.tasks import *  # noqa: F403
from rftkit.course.world.tasks import (  # noqa: F401
    DEFAULT_N,
    GENERATORS,
    GROWTH_METRICS,
    INCOME,
    MAX_TRIES,
    PATTERN,
    RESTATED_EVERY,
    SEGMENTS,
    TASK_TYPES,
    TIERS,
    Ref,
    Task,
    generate_tasks,
)

warnings.warn(
    "rftkit.world.tasks moved to rftkit.course.world.tasks; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
