"""Issue #15/#16 regressions for the grader engine: no model output, sample, item or formula makes
``run_grader`` raise; it scores 0 with the error flag. Run against main before the fix, 31 of the
first 42 cases failed (RecursionError, TypeError, an unclosed template paying 1.0, no range
note); the others guard the fix against over-reach (``}}`` in JSON, already-refused templates)."""

import warnings

import pytest

from rftkit.graders import GraderValidationError, run_grader, validate_grader
from rftkit.graders.engine import MAX_NESTING
from rftkit.protocol import Sample


def check(input_="{{sample.output_text}}", reference="{{item.reference_answer}}"):
    return {
        "type": "string_check",
        "name": "check",
        "operation": "eq",
        "input": input_,
        "reference": reference,
    }


def similarity(metric, input_="{{sample.output_text}}"):
    return {
        "type": "text_similarity",
        "name": "sim",
        "input": input_,
        "reference": "{{item.reference_answer}}",
        "evaluation_metric": metric,
    }


ITEM = {"reference_answer": "911.4"}


def deep(depth):
    value = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "grader",
    [
        check(),
        check("{{sample.output_json}}"),
        similarity("fuzzy_match"),
        similarity("bleu"),
        similarity("rouge_l", "{{sample.output_json}}"),
        {
            "type": "multi",
            "name": "m",
            "graders": {"a": check(), "b": similarity("gleu")},
            "calculate_output": "0.5 * a + 0.5 * b",
        },
    ],
)
@pytest.mark.parametrize("answer", ["[" * 5000, "{" * 5000, '{"a":' * 3000, "[" * 101 + "]" * 101])
def test_deeply_nested_final_answers_score_instead_of_raising(grader, answer):
    result = run_grader(grader, answer, ITEM)
    assert result.reward < 1.0
    if "output_json" in str(grader):
        assert result.reward == 0.0 and result.metadata.errors.sample_parse_error


def test_deep_sample_and_item_objects_are_flagged():
    nested = run_grader(check(), {"output_text": "911.4", "output_json": deep(5000)}, ITEM)
    assert nested.reward == 0.0 and nested.metadata.errors.sample_parse_error
    as_model = Sample(output_text="911.4", output_json=deep(MAX_NESTING + 1))
    assert run_grader(check(), as_model, ITEM).metadata.errors.sample_parse_error
    item = run_grader(check(), "911.4", {**ITEM, "extra": deep(5000)})
    assert item.reward == 0.0 and item.metadata.errors.other_error
    assert "nests deeper" in item.metadata.error_details[0]
    fine = run_grader(check(), "911.4", {**ITEM, "extra": deep(MAX_NESTING - 1)})
    assert fine.reward == 1.0 and fine.ok


def test_values_json_cannot_write_are_a_variable_error():
    result = run_grader(check(reference="{{item.blob}}"), "x", {"blob": {b"key": b"bytes"}})
    assert result.reward == 0.0 and result.metadata.errors.invalid_variable_error


def test_unclosed_template_is_refused_by_validation_and_never_graded_as_text():
    unclosed = check("{{sample.output_text}}", "{{item.reference_answer")
    with pytest.raises(GraderValidationError) as info:
        validate_grader(unclosed)
    assert info.value.path == "reference" and "unclosed template at character 0" in str(info.value)
    # Before the fix the literal "{{item.reference_answer" matched this answer and paid 1.0.
    result = run_grader(unclosed, "{{item.reference_answer", ITEM)
    assert result.reward == 0.0 and result.metadata.errors.invalid_variable_error


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("{{item.reference_answer", "input"),
        ("ok {{item.a}} then {{ item.b", "input"),
        ("{{item.a\nitem.b}}", "input"),
        ("{{ {{item.a}} }}", "input"),
        ("{{{item.a}}}", "input"),
    ],
)
def test_malformed_templates_name_the_field(text, path):
    with pytest.raises(GraderValidationError) as info:
        validate_grader(check(text))
    assert info.value.path == path


def test_closing_braces_alone_are_text():
    # JSON in a prompt or reference ends in "}}"; only an unclosed "{{" is an error.
    validate_grader(check(reference='{"a": {"b": 1}}'))


def test_min_with_one_argument_is_refused_at_validation_not_a_type_error_at_run():
    grader = {
        "type": "multi",
        "name": "m",
        "graders": {"a": check()},
        "calculate_output": "min(a)",
    }
    with pytest.raises(GraderValidationError) as info:
        validate_grader(grader)
    assert info.value.path == "calculate_output" and "at least 2" in str(info.value)
    result = run_grader(grader, "911.4", ITEM)  # run without validating: a flag, not TypeError
    assert result.reward == 0.0 and result.metadata.errors.formula_parse_error


def test_a_complex_intermediate_is_a_formula_error_not_a_type_error():
    grader = {
        "type": "multi",
        "name": "m",
        "graders": {"a": check()},
        "calculate_output": "ceil((a - 1) ^ 0.5)",
    }
    result = run_grader(validate_grader(grader), "wrong", ITEM)
    assert result.reward == 0.0 and result.metadata.errors.formula_parse_error


@pytest.mark.parametrize(
    ("formula", "answer", "reward"),
    [("3 * a", "911.4", 3.0), ("a - 1", "wrong", -1.0), ("a", "911.4", 1.0)],
)
def test_rewards_outside_the_unit_interval_pass_through_and_are_noted(formula, answer, reward):
    grader = {"type": "multi", "name": "m", "graders": {"a": check()}, "calculate_output": formula}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_grader(grader)
    result = run_grader(grader, answer, ITEM)
    assert result.reward == reward and result.ok
    if 0 <= reward <= 1:
        assert result.metadata.notes == []
    else:
        assert result.metadata.notes == [f"reward = {reward:g} is outside [0, 1]"]


def test_python_result_above_one_is_noted():
    grader = {"type": "python", "source": "def grade(sample, item):\n    return 1.5\n"}
    result = run_grader(grader, "x")
    assert result.reward == 1.5 and result.ok
    assert result.metadata.notes == ["reward = 1.5 is outside [0, 1]"]
    assert result.metadata.name == "python"  # the default name of a nameless grader


def test_one_hostile_answer_does_not_abort_a_batch():
    from rftkit.graders import run_grader_many

    cases = [("911.4", ITEM), ("[" * 5000, ITEM), ({"output_json": deep(5000)}, ITEM)]
    results = run_grader_many(check(), cases)
    assert [r.reward for r in results] == [1.0, 0.0, 0.0]
    assert results[2].metadata.errors.sample_parse_error


@pytest.mark.parametrize(
    "expression", ["-" * 100_000 + "1", "+".join(["1"] * 100_000), "(" * 300 + "1" + ")" * 300]
)
def test_python_sources_too_deep_to_parse_are_refused_naming_the_field(expression):
    grader = {"type": "python", "source": f"def grade(s, i):\n    return {expression}\n"}
    with pytest.raises(GraderValidationError) as info:
        validate_grader(grader)
    assert info.value.path == "source"
