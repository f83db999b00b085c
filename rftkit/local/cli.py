"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.local_cli`."""

import warnings

from rftkit.course.local_cli import *  # noqa: F403
from rftkit.course.local_cli import (  # noqa: F401
    register,
)

warnings.warn(
    "rftkit.local.cli moved to rftkit.course.local_cli; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
