"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.world.cli`."""

import warnings

from rftkit.course.world.cli import *  # noqa: F403
from rftkit.course.world.cli import (  # noqa: F401
    register,
    write_world,
)

warnings.warn(
    "rftkit.world.cli moved to rftkit.course.world.cli; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
