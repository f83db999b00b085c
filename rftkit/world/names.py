"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.world.names`."""

import warnings

from rftkit.course.world.names import *  # noqa: F403
from rftkit.course.world.names import (  # noqa: F401
    CODAS,
    LINKS,
    ONSETS,
    TWIN_SUFFIXES,
    make_stem,
    make_ticker,
    slugify,
)

warnings.warn(
    "rftkit.world.names moved to rftkit.course.world.names; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
