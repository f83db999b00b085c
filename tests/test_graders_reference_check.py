"""Issue #16 item 6: a text_similarity metric that cannot reward the dataset's own references."""

import warnings

import pytest

from rftkit.graders import (
    GraderValidationWarning,
    check_metric_rewards_references,
    validate_grader,
)


def similarity(metric, reference="{{item.reference_answer}}"):
    return {
        "type": "text_similarity",
        "name": metric,
        "input": "{{sample.output_text}}",
        "reference": reference,
        "evaluation_metric": metric,
    }


SHORT = [{"reference_answer": "911.4"}, {"reference_answer": "Acme Corp"}]


def test_bleu_on_short_answers_is_caught_with_the_score_it_gives():
    report = check_metric_rewards_references(similarity("bleu"), SHORT)
    assert not report.ok and len(report.problems) == 1
    assert "'bleu' gives 2 of 2 reference answers less than 0.9" in report.problems[0]
    assert "'911.4' against itself: 1.82e-231" in report.problems[0]
    exact = report.table.set_index("variant").loc["exact"]
    assert exact["items"] == 2 and exact["mean"] < 1e-100


@pytest.mark.parametrize("metric", ["fuzzy_match", "gleu", "rouge_1", "rouge_l"])
def test_metrics_that_reward_an_exact_short_answer_pass(metric):
    report = check_metric_rewards_references(similarity(metric), SHORT)
    assert report.ok, report.problems
    table = report.table.set_index("variant")
    assert table.loc["exact", "min"] == 1.0


def test_rouge_3_cannot_reward_a_two_token_answer():
    assert not check_metric_rewards_references(similarity("rouge_3"), SHORT).ok


def test_near_misses_are_scored_too():
    report = check_metric_rewards_references(
        similarity("fuzzy_match"), [{"reference_answer": "911.4"}]
    )
    scores = report.rows.set_index("variant")["score"]
    assert scores["exact"] == 1.0
    assert 0.0 < scores["one character off"] < 1.0  # 911.5: partial credit, not full
    assert report.rows.set_index("variant").loc["one character off", "reference"] == "911.4"


def test_only_similarity_graders_with_item_references_are_checked():
    multi = {
        "type": "multi",
        "name": "m",
        "graders": {
            "exact": {
                "type": "string_check", "name": "exact", "operation": "eq",
                "input": "{{sample.output_text}}", "reference": "{{item.reference_answer}}",
            },
            "self": similarity("bleu", "{{sample.output_text}}"),
            "short": similarity("bleu"),
        },
        "calculate_output": "exact + self + short",
    }  # fmt: skip
    report = check_metric_rewards_references(multi, SHORT)
    assert set(report.rows["grader"]) == {"graders.short"}
    assert report.problems[0].startswith("graders.short.evaluation_metric: 'bleu'")


def test_validation_with_items_warns_and_without_items_does_not():
    with pytest.warns(GraderValidationWarning, match="'bleu' gives 2 of 2"):
        validate_grader(similarity("bleu"), items=SHORT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_grader(similarity("bleu"))
        validate_grader(similarity("fuzzy_match"), items=SHORT)
