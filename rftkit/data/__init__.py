"""RFT datasets: build them from tasks, validate them line by line, curate, split, count tokens,
and keep only the items a model can learn from.

Typical use::

    lines = course_dataset(seed=0)
    train, valid = stratified_split(lines, valid_fraction=0.2, seed=0)
    write_jsonl(train, "train.jsonl")
    validate_file("train.jsonl", grader="grader.json", tool_names=["search", ...]).to_frame()
"""

from rftkit.data.build import (
    COURSE_INSTRUCTIONS,
    build_dataset,
    course_dataset,
    write_course_files,
)
from rftkit.data.curate import find_leakage, near_duplicates, question_of
from rftkit.data.findings import DatasetValidationError, Finding, Severity, ValidationReport
from rftkit.data.jsonl import load_jsonl, read_lines, write_jsonl
from rftkit.data.split import stratified_split
from rftkit.data.stats import dataset_stats, plot_stats
from rftkit.data.tokens import count_tokens, line_tokens
from rftkit.data.toolspecs import course_tool_specs, fetch_tool_specs, tool_names
from rftkit.data.triage import filter_learnable, triage
from rftkit.data.validate import (
    Profile,
    grader_item_variables,
    validate_file,
    validate_records,
)

__all__ = [
    "COURSE_INSTRUCTIONS",
    "DatasetValidationError",
    "Finding",
    "Profile",
    "Severity",
    "ValidationReport",
    "build_dataset",
    "count_tokens",
    "course_dataset",
    "course_tool_specs",
    "dataset_stats",
    "fetch_tool_specs",
    "filter_learnable",
    "find_leakage",
    "grader_item_variables",
    "line_tokens",
    "load_jsonl",
    "near_duplicates",
    "plot_stats",
    "question_of",
    "read_lines",
    "stratified_split",
    "tool_names",
    "triage",
    "validate_file",
    "validate_records",
    "write_course_files",
    "write_jsonl",
]
