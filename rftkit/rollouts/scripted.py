"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.scripted`."""

import warnings

from rftkit.course.scripted import *  # noqa: F403
from rftkit.course.scripted import (  # noqa: F401
    COURSE_TOOLS,
    GUESS_RATE,
    NEEDS_CALCULATOR,
    STYLES,
    Plan,
    ScriptedPolicy,
)

warnings.warn(
    "rftkit.rollouts.scripted moved to rftkit.course.scripted;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
