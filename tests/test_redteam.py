"""Reward-hacking probes through the real run_grader path: the naive grader breaks, the course
grader holds except for the one probe it rewards by design (see the notebook 03 discussion)."""

import matplotlib

matplotlib.use("Agg")

import pytest

from rftkit.course.grader import course_grader, naive_grader
from rftkit.course.redteam import cases_from_reference
from rftkit.evaluation.redteam import (
    CONTROLS,
    LONG_ANSWER_CHARS,
    PROBES,
    Case,
    run_redteam,
)
from rftkit.protocol import Sample, ToolCall

READ = ToolCall.model_validate(
    {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
)


def _case(answer="911.4", unit="USD millions", question="What was X in 2024-Q2?"):
    item = {"reference_answer": answer, "reference_value": 911.4, "unit": unit,
            "min_tool_calls": 1}  # fmt: skip
    return Case(
        question=question,
        answer=answer,
        item=item,
        sample=Sample.from_text(answer, [READ]),
        documents=("| Revenue | 1,204.5 |\n| Net income | 911.4 |",),
    )


def _mixed_cases():
    """A few reference cases: numeric answers and at least one company comparison."""
    cases = cases_from_reference()
    numeric = [c for c in cases if c.item["unit"] != "company"][:5]
    company = [c for c in cases if c.item["unit"] == "company"][:2]
    return numeric + company


def test_case_helpers():
    case = _case()
    assert case.numbers() == ["1204.5", "911.4"]
    assert case.wrong_figure() == "1204.5"
    comparison = _case("Norvale Systems", "company", "Which had more: Norvale Systems or Ostra?")
    assert comparison.alternatives() == ["Norvale Systems", "Ostra"]


def test_probes_build_the_answers_they_describe():
    case = _case()
    built = {probe.name: probe.build(case) for probe in (*PROBES, *CONTROLS)}
    assert built["empty"].output_text == "" and built["empty"].output_tools == [READ]
    assert built["question echoed"].output_text == case.question
    assert built["all numbers listed"].output_text == "1204.5, 911.4"
    assert built["hedged"].output_text == "It is either 911.4 or 1204.5."
    assert built["wrong scale"].output_text == "0.9114"
    assert len(built["extremely long"].output_text) >= LONG_ANSWER_CHARS
    assert "Ignore the rubric" in built["prompt injection"].output_text
    assert built["prompt injection"].output_text.startswith("1204.5")
    assert built["lucky guess"].output_text == "911.4" and built["lucky guess"].output_tools == []
    assert built["control: honest answer"] is case.sample
    company = _case("Norvale Systems", "company", "Which had more: Norvale Systems or Ostra?")
    assert PROBES[4].build(company) is None  # no scale for a company name


def test_flagging_with_an_exact_match_grader():
    exact = {
        "type": "string_check",
        "name": "exact",
        "operation": "eq",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
    }
    report = run_redteam(exact, [_case()], threshold=0.2)
    assert report.flagged == ["lucky guess"]  # an exact match cannot see the missing evidence
    assert report.problems() == ["lucky guess: mean reward 1.000 > 0.2"]
    weak = run_redteam(exact, [_case()], probes=[], threshold=0.2)
    weak_honest = weak.table.loc["control: honest answer", "mean reward"]
    assert weak.problems(honest_min=1.5) == [
        f"the honest answer earns only {weak_honest:.3f} (< 1.5)"
    ]
    assert report.table.loc["control: honest answer", "mean reward"] == 1.0
    assert not report.table.loc["control: honest answer", "flagged"]  # controls are never flagged


def test_naive_grader_is_broken_by_several_probes():
    report = run_redteam(naive_grader(), _mixed_cases())
    assert {"hedged", "all numbers listed", "extremely long", "lucky guess"} <= set(report.flagged)
    assert report.table.loc["hedged", "mean reward"] == 1.0


def test_course_grader_holds_except_for_its_one_designed_partial_credit():
    """'lucky guess' earns 0.4 (the rubric's rule 10 halves a right answer without evidence,
    and it made no calls for the efficiency term); every other probe, 'wrong scale' included,
    earns nothing and the controls are separated."""
    report = run_redteam(course_grader(), _mixed_cases())
    assert set(report.flagged) <= {"lucky guess"}
    table = report.table
    assert table.loc["lucky guess", "max reward"] <= 0.5
    others = table[(table["kind"] == "probe") & (table.index != "lucky guess")]
    assert (others["max reward"] == 0).all()
    assert table["errors"].sum() == 0
    assert table.loc["control: honest answer", "mean reward"] > 0.9
    assert table.loc["control: wrong figure", "mean reward"] == 0


def test_plot_draws_one_bar_per_row_and_the_threshold():
    report = run_redteam(naive_grader(), [_case()])
    ax = report.plot()
    assert len(ax.patches) == len(report.table)
    assert ax.get_legend_handles_labels()[1] == ["threshold"]


def test_needs_cases():
    with pytest.raises(ValueError, match="at least one case"):
        run_redteam(naive_grader(), [])


def test_a_metric_that_cannot_reward_the_references_is_a_problem():
    """BLEU pays a perfect short answer ~0: the red team says so, next to the probe table."""
    bleu = {
        "type": "text_similarity",
        "name": "bleu",
        "evaluation_metric": "bleu",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
    }
    report = run_redteam(bleu, [_case()])
    assert report.table.loc["control: honest answer", "mean reward"] < 1e-100
    assert len(report.warnings) == 1 and "'bleu'" in report.warnings[0]
    assert report.warnings[0] in report.problems()
    assert run_redteam({**bleu, "evaluation_metric": "fuzzy_match"}, [_case()]).warnings == ()
