"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.reference_labels`."""

import warnings

from rftkit.course.reference_labels import *  # noqa: F403
from rftkit.course.reference_labels import (  # noqa: F401
    FIRST_PASS,
    RUBRIC_VERSION,
    SCALE,
    SCALE_NAMES,
    SECOND_PASS,
    inter_rater_agreement,
    labels_path,
    load_items,
    load_labels,
    load_reference_set,
    rubric,
    rubric_model_grader,
    rubric_version,
    trace_summary,
)

warnings.warn(
    "rftkit.reference_labels moved to rftkit.course.reference_labels;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
