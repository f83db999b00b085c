"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.worlds`."""

import warnings

from rftkit.course.worlds import *  # noqa: F403
from rftkit.course.worlds import (  # noqa: F401
    GRPO_SEEDS,
    HELDOUT_SEEDS,
    PRETRAIN_SEEDS,
    TUNING_SEEDS,
    VALID_SEEDS,
    LocalWorld,
    build_world,
    world_seeds,
)

warnings.warn(
    "rftkit.local.worlds moved to rftkit.course.worlds; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
