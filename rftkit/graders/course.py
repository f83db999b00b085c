"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.grader`."""

import warnings

from rftkit.course.grader import *  # noqa: F403
from rftkit.course.grader import (  # noqa: F401
    EFFICIENCY_WEIGHT,
    course_grader,
    course_grader_draft,
    naive_grader,
    python_grader,
)

warnings.warn(
    "rftkit.graders.course moved to rftkit.course.grader; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
