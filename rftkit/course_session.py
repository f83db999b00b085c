"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.session`."""

import warnings

from rftkit.course.session import *  # noqa: F403
from rftkit.course.session import (  # noqa: F401
    CourseSession,
    course_session,
)

warnings.warn(
    "rftkit.course_session moved to rftkit.course.session; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
