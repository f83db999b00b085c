"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.toolserver.corpus` (the kit's tool-server library)."""

import warnings

from rftkit.toolserver.corpus import *  # noqa: F403
from rftkit.toolserver.corpus import (  # noqa: F401
    SUFFIXES,
    Corpus,
    Line,
    words,
)

warnings.warn(
    "tools_service.corpus moved to rftkit.toolserver.corpus; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
