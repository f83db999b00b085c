"""One verdict type for every check made before a job is paid for, whatever the backend.

A :class:`Report` is rows of ``check``, ``result`` (a severity: ok / warning / error / skipped)
and ``detail``. The hosted and local preflight (:mod:`rftkit.jobs.preflight`) and TRL's
(:mod:`rftkit.trl.preflight`) both fill one, so ``rftkit jobs preflight`` prints the same layout,
``ok`` means the same thing (no error; warnings allowed) and :meth:`Report.problems` has one shape
on every backend. Header values the task resolved are masked as each row is added, so no row,
table, rendering or repr can carry one.

Example::

    report = get_backend("azure", client=client).preflight(task, env=env)
    print(report.render()); report.ok; report.problems()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from rftkit.errors import RFTKitError
from rftkit.jobs.hosted.errors import mask

if TYPE_CHECKING:
    from rftkit.jobs.forecast import Forecast

SEVERITIES = ("ok", "warning", "error", "skipped")
COLUMNS = ("check", "result", "detail")


@dataclass(frozen=True)
class Row:
    """One check's outcome. ``row["check"]`` reads like the dict rows of earlier releases."""

    check: str
    result: str
    detail: str

    def __getitem__(self, key: str) -> str:
        if key not in COLUMNS:
            raise KeyError(f"a report row has {', '.join(COLUMNS)}, not {key!r}")
        return getattr(self, key)

    # TRL's preflight spelled the fields name / level / message (kept for one release).
    @property
    def name(self) -> str:
        return self.check

    @property
    def level(self) -> str:
        return self.result

    @property
    def message(self) -> str:
        return self.detail


@dataclass
class Report:
    """The rows of one preflight, the forecast it made (or None), and the secrets it masks."""

    task_name: str
    backend: str
    rows: list[Row] = field(default_factory=list)
    forecast: Forecast | None = None
    secrets: Sequence[str] = field(default=(), repr=False)
    """Header values the task resolved: never shown (masked in :meth:`add`)."""

    def add(self, check: str, result: str, detail: str) -> None:
        if result not in SEVERITIES:
            raise ValueError(f"result must be one of {', '.join(SEVERITIES)}, not {result!r}")
        self.rows.append(Row(check, result, mask(detail, self.secrets)))

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.result == "error"]

    @property
    def ok(self) -> bool:
        """True when no check found an error (warnings allowed)."""
        return not self.errors

    @property
    def checks(self) -> list[Row]:
        """The rows, by the name TRL's preflight used (kept for one release)."""
        return self.rows

    @property
    def passed(self) -> bool:
        """``ok``, by the name TRL's preflight used (kept for one release)."""
        return self.ok

    def problems(self) -> list[tuple[str, str]]:
        """``(severity, "check: detail")`` for every error, then every warning: the shape
        :meth:`rftkit.jobs.forecast.Forecast.problems` has too."""
        return [
            (r.result, f"{r.check}: {r.detail}")
            for severity in ("error", "warning")
            for r in self.rows
            if r.result == severity
        ]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([[getattr(r, c) for c in COLUMNS] for r in self.rows], columns=COLUMNS)

    def render(self) -> str:
        """The report as ``rftkit jobs preflight`` prints it: a heading, a line per check and
        the verdict (``preflight passed: READY TO LAUNCH`` or ``preflight FAILED: NOT READY``)."""
        if self.ok:
            verdict = "preflight passed: READY TO LAUNCH"
        else:
            verdict = f"preflight FAILED: NOT READY ({len(self.errors)} error(s))"
        lines = [f"preflight: {self.task_name} on {self.backend}"]
        width = max((len(r.check) for r in self.rows), default=0)
        for row in self.rows:
            lines.append(f"  {row.result.upper():8} {row.check:{width}}  {row.detail}")
        return "\n".join([*lines, verdict])

    text = render


class PreflightFailed(ValueError, RFTKitError):
    """A launch refused because preflight found errors; ``report`` holds every row and the
    message is its rendering (masked). Pass ``skip_preflight=True`` to launch all the same."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__(report.render())
