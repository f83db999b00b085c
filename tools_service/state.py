"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.toolserver.state` (the kit's tool-server library)."""

import warnings

from rftkit.toolserver.state import *  # noqa: F403
from rftkit.toolserver.state import (  # noqa: F401
    DEFAULT_MAX_TOTAL_BYTES,
    DEFAULT_MAX_TRACE_BYTES,
    DEFAULT_MAX_TRACES,
    DEFAULT_TTL_SECONDS,
    MIB,
    InMemoryStateStore,
    ModalDictStateStore,
    StateStore,
    TraceRecord,
)

warnings.warn(
    "tools_service.state moved to rftkit.toolserver.state; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
