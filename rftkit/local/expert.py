"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.expert`."""

import warnings

from rftkit.course.expert import *  # noqa: F403
from rftkit.course.expert import (  # noqa: F401
    BASE_HABITS,
    FIRST_NAME,
    LABEL_KEYS,
    PATTERNS,
    PERFECT,
    SLOW_ROUTE_TYPES,
    Episode,
    Habits,
    Q,
    ScriptedExpert,
    metric_key,
)

warnings.warn(
    "rftkit.local.expert moved to rftkit.course.expert; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
