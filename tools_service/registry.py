"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.toolserver.registry` (the kit's tool-server library)."""

import warnings

from rftkit.toolserver.registry import *  # noqa: F403
from rftkit.toolserver.registry import (  # noqa: F401
    Tool,
    Toolbox,
    ToolContext,
    ToolInputError,
)

warnings.warn(
    "tools_service.registry moved to rftkit.toolserver.registry;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
