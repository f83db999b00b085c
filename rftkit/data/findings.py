"""What the validator found: one record per problem, with the place to fix it and how.

Every check in ``rftkit.data`` reports through ``Finding`` so a whole file's problems come back in
one pass, as a table to read (``ValidationReport.to_frame()``) or as one exception that lists them
all (``raise_for_errors()``). Nothing is dropped or rewritten to make a finding go away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from rftkit.errors import RFTKitError

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("file", "line", "field", "severity", "code", "message", "hint")


class Severity(StrEnum):
    """``error``: the job would fail or train on something wrong. ``warning``: worth a look."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem at one place. ``line`` is 1-based; None for file-wide findings."""

    file: str
    line: int | None
    field: str
    severity: Severity
    code: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        text = f"{where}: {self.severity} [{self.code}] {self.field}: {self.message}"
        return f"{text} (fix: {self.hint})" if self.hint else text


class DatasetValidationError(ValueError, RFTKitError):
    """Raised by ``ValidationReport.raise_for_errors``; its message lists every error."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        lines = "\n".join(f"  {f}" for f in findings)
        super().__init__(f"{len(findings)} error(s) in the dataset:\n{lines}")


@dataclass
class ValidationReport:
    """All findings for one file, in file order, and how many lines were read."""

    file: str
    lines_read: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """The findings as a table, one row each; ``line`` is a nullable integer column."""
        import pandas as pd  # only a report shown as a table needs it; the CLI reads the task fast

        frame = pd.DataFrame([asdict(f) for f in self.findings], columns=list(COLUMNS))
        frame["line"] = frame["line"].astype("Int64")
        frame["severity"] = frame["severity"].astype(str)
        return frame

    def raise_for_errors(self) -> ValidationReport:
        """Raise DatasetValidationError listing every error; return self when there is none."""
        if self.errors:
            raise DatasetValidationError(self.errors)
        return self

    def lines(self) -> list[str]:
        """The findings as text, one line per distinct problem: the same finding on several
        lines (a key the grader reads with a default, missing from every line) is one line that
        lists every line it is on, so a repeated warning neither floods the output nor loses a
        place. In file order of each problem's first line."""
        groups: dict[tuple, list[Finding]] = {}
        for found in self.findings:
            key = (found.file, found.field, found.severity, found.code, found.message, found.hint)
            groups.setdefault(key, []).append(found)
        shown = []
        for same in groups.values():
            first = same[0]
            numbers = [f.line for f in same if f.line is not None]
            if len(same) == 1 or len(numbers) != len(same):
                shown += [str(f) for f in same]
                continue
            text = str(replace(first, line=None)).removeprefix(first.file)
            shown.append(f"{first.file}: lines {_ranges(numbers)} ({len(same)} lines){text}")
        return shown

    def summary(self) -> str:
        """One line: the file, lines read, errors and warnings."""
        return (
            f"{self.file}: {self.lines_read} lines, {len(self.errors)} error(s), "
            f"{len(self.warnings)} warning(s)"
        )


def _ranges(numbers: list[int]) -> str:
    """``1-3, 7, 9-10`` for [1, 2, 3, 7, 9, 10]."""
    spans: list[list[int]] = []
    for number in sorted(set(numbers)):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
