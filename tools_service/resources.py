"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.toolserver.resources` (the kit's tool-server library)."""

import warnings

from rftkit.toolserver.resources import *  # noqa: F403
from rftkit.toolserver.resources import (  # noqa: F401
    PerThread,
    Resources,
)

warnings.warn(
    "tools_service.resources moved to rftkit.toolserver.resources;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
