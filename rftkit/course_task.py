"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.task`."""

import warnings

from rftkit.course.task import *  # noqa: F403
from rftkit.course.task import (  # noqa: F401
    COURSE_HYPERPARAMETERS,
    CourseTaskSize,
    ServedTask,
    ServedWorlds,
    course_task_tools,
    course_worlds,
    serve_course_task,
    serve_worlds,
    world_lines,
    write_course_task,
)

warnings.warn(
    "rftkit.course_task moved to rftkit.course.task; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
