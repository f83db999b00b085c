"""RFT datasets: build them from tasks, validate them line by line, curate, split, count tokens,
and keep only the items a model can learn from.

Typical use::

    lines = build_dataset(tasks, instructions=INSTRUCTIONS, tools=toolbox.specs())
    train, valid = stratified_split(lines, valid_fraction=0.2, seed=0)
    write_jsonl(train, "train.jsonl")
    validate_file("train.jsonl", grader="grader.json", tool_names=["search", ...]).to_frame()
"""

import importlib
import warnings
from typing import Any

from rftkit._util.lazy import lazy_exports

# A name that is also a submodule's cannot be lazy: importing the submodule (as any caller of
# rftkit.data.triage does) binds the module under that name, and __getattr__ is never asked.
from rftkit.data.triage import triage as triage

_EXPORTS = {
    "LineSource": "rftkit.data.build",
    "build_dataset": "rftkit.data.build",
    "find_leakage": "rftkit.data.curate",
    "near_duplicates": "rftkit.data.curate",
    "question_of": "rftkit.data.curate",
    "DatasetValidationError": "rftkit.data.findings",
    "Finding": "rftkit.data.findings",
    "Severity": "rftkit.data.findings",
    "ValidationReport": "rftkit.data.findings",
    "load_jsonl": "rftkit.data.jsonl",
    "read_lines": "rftkit.data.jsonl",
    "write_jsonl": "rftkit.data.jsonl",
    "stratified_split": "rftkit.data.split",
    "dataset_stats": "rftkit.data.stats",
    "plot_stats": "rftkit.data.stats",
    "count_tokens": "rftkit.data.tokens",
    "line_tokens": "rftkit.data.tokens",
    "fetch_tool_specs": "rftkit.data.toolspecs",
    "tool_names": "rftkit.data.toolspecs",
    "filter_learnable": "rftkit.data.triage",
    "Profile": "rftkit.data.profile",
    "grader_item_variables": "rftkit.data.grader_reads",
    "validate_file": "rftkit.data.validate",
    "validate_records": "rftkit.data.validate",
}
"""Each public name and the submodule that defines it (imported on first use)."""


_MOVED = ("COURSE_INSTRUCTIONS", "course_dataset", "course_tool_specs", "write_course_files")
"""The course's dataset names, now in ``rftkit.course.dataset``; still resolved here, with a
DeprecationWarning, for one release."""

__all__ = sorted([*_EXPORTS, "triage"])
_exported = lazy_exports(__name__, _EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"rftkit.data.{name} moved to rftkit.course.dataset.{name}; the old path goes in the"
            " next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("rftkit.course.dataset"), name)
    return _exported(name)
