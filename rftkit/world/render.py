"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.world.render`."""

import warnings

from rftkit.course.world.render import *  # noqa: F403
from rftkit.course.world.render import (  # noqa: F401
    METRIC_LABELS,
    STYLES,
    corpus_index,
    render_compact,
    render_full,
    report_path,
    write_corpus,
)

warnings.warn(
    "rftkit.world.render moved to rftkit.course.world.render;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
