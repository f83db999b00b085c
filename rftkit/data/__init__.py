"""RFT datasets: build them from tasks, validate them line by line, curate, split, count tokens,
and keep only the items a model can learn from.

Typical use::

    lines = course_dataset(seed=0)
    train, valid = stratified_split(lines, valid_fraction=0.2, seed=0)
    write_jsonl(train, "train.jsonl")
    validate_file("train.jsonl", grader="grader.json", tool_names=["search", ...]).to_frame()
"""

from rftkit._util.lazy import lazy_exports

# A name that is also a submodule's cannot be lazy: importing the submodule (as any caller of
# rftkit.data.triage does) binds the module under that name, and __getattr__ is never asked.
from rftkit.data.triage import triage as triage

_EXPORTS = {
    "COURSE_INSTRUCTIONS": "rftkit.data.build",
    "build_dataset": "rftkit.data.build",
    "course_dataset": "rftkit.data.build",
    "write_course_files": "rftkit.data.build",
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
    "course_tool_specs": "rftkit.data.toolspecs",
    "fetch_tool_specs": "rftkit.data.toolspecs",
    "tool_names": "rftkit.data.toolspecs",
    "filter_learnable": "rftkit.data.triage",
    "Profile": "rftkit.data.profile",
    "grader_item_variables": "rftkit.data.grader_reads",
    "validate_file": "rftkit.data.validate",
    "validate_records": "rftkit.data.validate",
}
"""Each public name and the submodule that defines it (imported on first use)."""


__all__ = sorted([*_EXPORTS, "triage"])
__getattr__ = lazy_exports(__name__, _EXPORTS)
