"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.toolserver.guards` (the kit's tool-server library)."""

import warnings

from rftkit.toolserver.guards import *  # noqa: F403
from rftkit.toolserver.guards import (  # noqa: F401
    TOKEN_ENV,
    UNAUTHORIZED,
    BearerAuthMiddleware,
    BodyLimitMiddleware,
    error_body,
    resolve_token,
    too_large_body,
)

warnings.warn(
    "tools_service.guards moved to rftkit.toolserver.guards; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
