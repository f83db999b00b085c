"""validate_grader mirrors graders.validate: schema from the SDK's types, then semantics; every
error names the field path."""

import pytest

from rftkit.course.grader import course_grader
from rftkit.graders import GraderValidationError, validate_grader

CHECK = {
    "type": "string_check",
    "name": "exact",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
}
PYTHON = {"type": "python", "name": "p", "source": "def grade(sample, item):\n    return 1.0"}


def multi(formula="correct", **graders):
    return {
        "type": "multi",
        "name": "m",
        "calculate_output": formula,
        "graders": graders or {"correct": CHECK},
    }


@pytest.mark.parametrize(
    ("grader", "path", "reason"),
    [
        ({**CHECK, "operation": "neq"}, "operation", "'eq', 'ne', 'like' or 'ilike'"),
        ({k: v for k, v in CHECK.items() if k != "reference"}, "reference", "Field required"),
        ({**CHECK, "type": "regex"}, "type", "unknown grader type 'regex'"),
        ("string_check", "", "must be an object"),
        ({**CHECK, "input": "{{model.output}}"}, "input", "namespace must be one of item, sample"),
        ({**CHECK, "reference": "{{item..x}}"}, "reference", "cannot parse the path"),
        (multi(correct={**CHECK, "operation": "neq"}), "graders.correct.operation", "'eq'"),
        (multi("correct + tools"), "calculate_output", "uses tools, not keys of graders"),
        (multi("correct **2"), "calculate_output", "use ^ for powers"),
        (multi(inner=multi()), "graders.inner", "cannot contain another multi"),
        ({**multi(), "graders": {}}, "graders", "at least one sub-grader"),
        (multi("x", **{"x": CHECK, "not-an-id": CHECK}), "graders.not-an-id", "identifiers"),
        ({**PYTHON, "source": "def grade(s, i) return 1"}, "source", "line 1"),
        ({**PYTHON, "source": "def score(s, i):\n    return 1"}, "source", "define grade"),
        ({**PYTHON, "source": "#" * 300_000}, "source", "the limit is 256000"),
        (
            {"type": "endpoint", "name": "e", "url": "ftp://x/grade"},
            "url",
            "must be an http(s) URL",
        ),
        ({"type": "endpoint", "name": "e"}, "url", "Field required"),
        (
            {
                "type": "text_similarity",
                "name": "t",
                "input": "a",
                "reference": "b",
                "evaluation_metric": "rouge_9",
            },
            "evaluation_metric",
            "'fuzzy_match'",
        ),
    ],
)
def test_errors_name_the_field(grader, path, reason):
    with pytest.raises(GraderValidationError) as info:
        validate_grader(grader)
    assert info.value.path == path
    assert reason in str(info.value)
    if path:
        assert str(info.value).startswith(f"{path}: ")


def test_valid_configs_come_back_normalised_and_unchanged_otherwise():
    assert validate_grader(CHECK) == CHECK
    grader = course_grader()
    assert validate_grader(grader) == grader
    score = {
        "type": "score_model",
        "name": "s",
        "model": "gpt-4.1-mini-2025-04-14",
        "input": [{"role": "user", "content": "{{sample.output_text}}"}],
    }
    normalised = validate_grader(score)
    assert normalised["range"] == [0.0, 1.0] and "range" not in score


def test_endpoint_grader_is_accepted_alone_and_inside_multi():
    endpoint = {
        "type": "endpoint",
        "name": "e",
        "url": "https://example.com/grade",
        "headers": {"Authorization": "Bearer x"},
    }
    assert validate_grader(endpoint) == endpoint
    validate_grader(multi("0.5 * a + 0.5 * b", a=CHECK, b=endpoint))
