"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.exercises`."""

import warnings

from rftkit.course.exercises import *  # noqa: F403
from rftkit.course.exercises import (  # noqa: F401
    BUCKET_CASES,
    NO_TOOL_CASE,
    PERCENT_CHANGE_CASES,
    STUB_HINT,
    NotYet,
    check_bucket,
    check_no_tool_correct,
    check_percent_change,
    check_repair,
    check_restated_tasks,
    check_string_grader,
    exercise_check,
)

warnings.warn(
    "rftkit.exercises moved to rftkit.course.exercises; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
