"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.world.facts`."""

import warnings

from rftkit.course.world.facts import *  # noqa: F403
from rftkit.course.world.facts import (  # noqa: F401
    METRICS,
    RESTATABLE,
    RESTATEMENT_RATE,
    SECTORS,
    START_YEAR,
    Company,
    QuarterFacts,
    Restatement,
    Sector,
    World,
    generate_world,
    quarter_label,
)

warnings.warn(
    "rftkit.world.facts moved to rftkit.course.world.facts; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
