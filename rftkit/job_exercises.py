"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.job_exercises`."""

import warnings

from rftkit.course.job_exercises import *  # noqa: F403
from rftkit.course.job_exercises import (  # noqa: F401
    TARGET,
    check_step_budget,
)

warnings.warn(
    "rftkit.job_exercises moved to rftkit.course.job_exercises;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
