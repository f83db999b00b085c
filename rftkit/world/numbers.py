"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.world.numbers`."""

import warnings

from rftkit.course.world.numbers import *  # noqa: F403
from rftkit.course.world.numbers import (  # noqa: F401
    TENTH,
    grouped,
    growth_percent,
    plain,
    tenths,
)

warnings.warn(
    "rftkit.world.numbers moved to rftkit.course.world.numbers;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
