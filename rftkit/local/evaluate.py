"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.evaluate`."""

import warnings

from rftkit.course.evaluate import *  # noqa: F403
from rftkit.course.evaluate import (  # noqa: F401
    WORLDS_AT_ONCE,
    evaluate,
    parallel_turn_share,
    summarise,
    teacher_forced_accuracy,
)

warnings.warn(
    "rftkit.local.evaluate moved to rftkit.course.evaluate; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
