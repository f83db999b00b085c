"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.inprocess`."""

import warnings

from rftkit.course.inprocess import *  # noqa: F403
from rftkit.course.inprocess import (  # noqa: F401
    EpisodeResult,
    run_inprocess,
)

warnings.warn(
    "rftkit.local.inprocess moved to rftkit.course.inprocess;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
