"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.rewards`."""

import warnings

from rftkit.course.rewards import *  # noqa: F403
from rftkit.course.rewards import (  # noqa: F401
    CALL_COUNT_SOURCE,
    FLAT_COST,
    LATENCY_WEIGHT,
    REWARDS,
    flat_cost_grader,
    latency_grader,
)

warnings.warn(
    "rftkit.local.rewards moved to rftkit.course.rewards; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
