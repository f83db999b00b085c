"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.world`."""

import warnings

from rftkit.course.world import *  # noqa: F403
from rftkit.course.world import (  # noqa: F401
    STYLES,
    TASK_TYPES,
    Company,
    QuarterFacts,
    Restatement,
    Task,
    World,
    corpus_index,
    generate_tasks,
    generate_world,
    growth_percent,
    report_path,
    write_corpus,
)

warnings.warn(
    "rftkit.world moved to rftkit.course.world; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
