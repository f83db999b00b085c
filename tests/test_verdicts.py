"""One verdict name: every report that can say "go" or "stop" answers ``.ok``; the older names
(``ready``, ``passed``) stay as aliases the notebooks and generated projects use."""

import pandas as pd
import pytest

from rftkit.data.findings import ValidationReport
from rftkit.endpoints.report import ReadinessReport
from rftkit.evaluation.agreement import GateDecision
from rftkit.evaluation.redteam import RedTeamReport
from rftkit.graders.reference_check import ReferenceCheck
from rftkit.graders.result import GraderRunResult
from rftkit.jobs.report import Report


@pytest.mark.parametrize(
    "report_type",
    [ReadinessReport, RedTeamReport, GateDecision, ValidationReport, Report, ReferenceCheck,
     GraderRunResult],
)  # fmt: skip
def test_every_verdict_is_spelled_ok(report_type):
    assert isinstance(getattr(report_type, "ok", None), property), report_type


@pytest.mark.parametrize("setup, expected", [([], True), ([("blocker", "no URL")], False)])
def test_readiness_ok_ready_and_passed_agree(setup, expected):
    report = ReadinessReport(contract=[], burst=None, p99_budget_ms=100.0, setup=setup)
    assert report.ok is report.ready is report.passed is expected


def test_gate_ok_is_passed():
    for passed in (True, False):
        assert GateDecision(passed, "why", None, 0.6, 40).ok is passed


def _redteam(flagged: bool, honest: float) -> RedTeamReport:
    table = pd.DataFrame(
        {"mean reward": [honest, 0.9 if flagged else 0.1], "flagged": [False, flagged],
         "kind": ["control", "probe"]},
        index=["control: honest answer", "bare number"],
    )  # fmt: skip
    return RedTeamReport(rows=pd.DataFrame(), table=table, threshold=0.5)


def test_redteam_ok_is_no_problem():
    assert _redteam(flagged=False, honest=1.0).ok
    assert not _redteam(flagged=True, honest=1.0).ok
    assert not _redteam(flagged=False, honest=0.2).ok
