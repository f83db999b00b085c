"""run_grader: documented string_check/template cases, result shape, flags, multi."""

import pytest
from openai.types.fine_tuning.alpha import GraderRunResponse

from rftkit.graders import GraderValidationError, run_grader
from rftkit.protocol import Sample, ToolCall

TOOLS = [
    ToolCall.model_validate(
        {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
    )
]
ITEM = {"reference_answer": "911.4", "ground_truth": {"date": "2025-03-31"}, "unit": "USD millions"}


def check(operation, input_, reference):
    return {
        "type": "string_check",
        "name": "check",
        "operation": operation,
        "input": input_,
        "reference": reference,
    }


# Cases from the graders guide (docs/hosted-api.md §5.1–§5.2): eq/ne exact and case-sensitive,
# like is "input contains reference" case-sensitive, ilike the same ignoring case.
STRING_CHECK_CASES = [
    ("eq", "911.4", "911.4", 1.0),
    ("eq", "911.4 ", "911.4", 0.0),
    ("eq", "Paris", "paris", 0.0),
    ("ne", "Paris", "paris", 1.0),
    ("ne", "911.4", "911.4", 0.0),
    ("like", "The answer is 911.4 million", "911.4", 1.0),
    ("like", "the answer is PARIS", "Paris", 0.0),
    ("like", "911", "911.4", 0.0),  # the reference must be inside the input, not vice versa
    ("ilike", "the answer is PARIS", "Paris", 1.0),
    ("ilike", "Lyon", "Paris", 0.0),
    ("eq", "", "", 1.0),
]


@pytest.mark.parametrize(("operation", "text", "reference", "expected"), STRING_CHECK_CASES)
def test_string_check_documented_cases(operation, text, reference, expected):
    grader = check(operation, "{{sample.output_text}}", reference)
    assert run_grader(grader, text).reward == expected


TEMPLATE_CASES = [
    ("{{item.reference_answer}}", "911.4"),
    ("{{ item.reference_answer }}", "911.4"),
    ("{{item.ground_truth.date}}", "2025-03-31"),
    ("{{sample.output_text}}", '{"answer": {"value": "911.4"}}'),
    ("{{sample.output_json.answer.value}}", "911.4"),
    ("{{sample.output_tools[0].function.name}}", "read_file"),
    ("{{item.unit}}: {{sample.output_json.answer.value}}", "USD millions: 911.4"),
]


@pytest.mark.parametrize(("template", "rendered"), TEMPLATE_CASES)
def test_templates_render_as_documented(template, rendered):
    sample = Sample.from_text('{"answer": {"value": "911.4"}}', tools=TOOLS)
    assert run_grader(check("eq", template, rendered), sample, ITEM).reward == 1.0


def test_str_sample_is_built_like_graders_run():
    grader = check("eq", "{{sample.output_json.x}}", "1")
    assert run_grader(grader, '{"x": "1"}').reward == 1.0


def test_result_validates_as_the_sdk_response():
    result = run_grader(
        check("eq", "{{sample.output_text}}", "{{item.reference_answer}}"), "911.4", ITEM
    )
    response = GraderRunResponse.model_validate(result.model_dump())
    assert response.reward == 1.0
    assert response.metadata.type == "string_check" and response.metadata.name == "check"
    assert response.metadata.errors.formula_parse_error is False
    assert response.metadata.execution_time >= 0


@pytest.mark.parametrize(
    ("template", "sample", "flag"),
    [
        ("{{item.missing}}", "x", "invalid_variable_error"),
        ("{{sample.output_tools[0].function.name}}", "x", "invalid_variable_error"),
        ("{{sample.output_json.answer}}", "not json", "sample_parse_error"),
    ],
)
def test_unfillable_templates_score_zero_with_the_flag(template, sample, flag):
    result = run_grader(check("eq", template, "x"), sample, ITEM)
    assert result.reward == 0.0
    assert getattr(result.metadata.errors, flag) is True
    assert (
        result.metadata.error_details and template.strip("{}") in result.metadata.error_details[0]
    )


@pytest.mark.parametrize(
    "sample",
    [{"output_text": 3.5, "output_tools": "nope"}, {"output_tools": [{"id": 1}]}, 42, None],
)
def test_bad_samples_never_raise(sample):
    result = run_grader(check("eq", "{{sample.output_text}}", "x"), sample)
    assert result.reward == 0.0 and result.metadata.errors.sample_parse_error


def test_an_item_that_is_not_an_object_is_flagged_not_raised():
    result = run_grader(check("eq", "{{sample.output_text}}", "x"), "x", ["not", "a", "dict"])
    assert result.reward == 0.0 and result.metadata.errors.other_error
    assert "item must be an object" in result.metadata.error_details[0]


def test_malformed_config_raises_naming_the_field():
    with pytest.raises(GraderValidationError, match="operation"):
        run_grader(check("neq", "a", "b"), "a")
    with pytest.raises(GraderValidationError, match="type"):
        run_grader({"type": "regex", "name": "x"}, "a")


def _multi(formula, **graders):
    return {"type": "multi", "name": "combo", "graders": graders, "calculate_output": formula}


EXACT = check("eq", "{{sample.output_text}}", "{{item.reference_answer}}")
FUZZY = {
    "type": "text_similarity",
    "name": "fuzzy",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "evaluation_metric": "fuzzy_match",
}
QUARTER = {"type": "python", "name": "quarter", "source": "def grade(s, i):\n    return 0.25"}


def test_multi_combines_sub_rewards_with_the_formula():
    grader = _multi(
        "0.5 * exact + 0.5 * fuzzy + quarter ^ 2", exact=EXACT, fuzzy=FUZZY, quarter=QUARTER
    )
    result = run_grader(grader, "911.5", ITEM)
    assert result.sub_rewards == {"exact": 0.0, "fuzzy": pytest.approx(0.8), "quarter": 0.25}
    assert result.reward == pytest.approx(0.5 * 0.8 + 0.0625)
    assert result.ok and result.metadata.type == "multi"
    GraderRunResponse.model_validate(result.model_dump())


def test_multi_formula_errors_are_flags():
    bad = run_grader(_multi("exact +", exact=EXACT), "911.4", ITEM)
    assert bad.reward == 0.0 and bad.metadata.errors.formula_parse_error
    unknown = run_grader(_multi("exact + nope", exact=EXACT), "911.4", ITEM)
    assert unknown.reward == 0.0 and unknown.metadata.errors.invalid_variable_error
    zero = run_grader(_multi("exact / 0", exact=EXACT), "911.4", ITEM)
    assert zero.reward == 0.0 and zero.metadata.errors.formula_parse_error


def test_multi_with_a_failing_sub_grader_scores_zero_and_says_which():
    crash = {
        "type": "python",
        "name": "crash",
        "source": "def grade(s, i):\n    raise KeyError('k')",
    }
    result = run_grader(_multi("exact + crash", exact=EXACT, crash=crash), "911.4", ITEM)
    assert result.reward == 0.0
    assert result.sub_rewards == {"exact": 1.0, "crash": 0.0}
    assert result.metadata.errors.python_grader_runtime_error
    assert "KeyError" in result.metadata.errors.python_grader_runtime_error_details
    assert result.metadata.error_details[0].startswith("graders.crash")


def test_multi_cannot_nest():
    with pytest.raises(GraderValidationError, match="graders.inner"):
        run_grader(_multi("inner", inner=_multi("exact", exact=EXACT)), "x", ITEM)


def test_sync_run_grader_works_inside_a_running_event_loop():
    import asyncio

    async def notebook_cell():  # Jupyter runs cells inside a loop
        return run_grader(QUARTER, "x", {}), run_grader(EXACT, "911.4", ITEM)

    python_result, local_result = asyncio.run(notebook_cell())
    assert python_result.reward == 0.25 and local_result.reward == 1.0


def test_async_python_graders_run_side_by_side():
    import asyncio

    from rftkit.graders import run_grader_async

    source = "def grade(s, i):\n    return len(s['output_text']) / 10"

    async def many():
        grader = {"type": "python", "name": "len", "source": source}
        return await asyncio.gather(*(run_grader_async(grader, "x" * n, {}) for n in range(8)))

    assert [r.reward for r in asyncio.run(many())] == [n / 10 for n in range(8)]


def test_run_grader_many_equals_run_grader_case_by_case():
    from rftkit.course.grader import course_grader
    from rftkit.graders import run_grader_many

    grader = course_grader()
    base = {
        "reference_answer": "911.4",
        "reference_value": 911.4,
        "unit": "USD millions",
        "min_tool_calls": 1,
    }
    cases = [
        (Sample.from_text("911.4", tools=TOOLS), base),
        ("911", base),  # coarse rounding (0.5) and no evidence (0.5), no calls (0.8)
        ("either 911.4 or 912", base),
        ({"output_tools": "broken"}, base),  # a bad sample: flagged, the rest unaffected
        ("911.4", {**base, "reference_answer": "not a number"}),  # the python grader fails
        (Sample.from_text("$0.9114 billion", tools=TOOLS * 3), base),
    ]
    many = run_grader_many(grader, cases)
    one_by_one = [run_grader(grader, sample, item) for sample, item in cases]
    assert (
        [r.reward for r in many]
        == [r.reward for r in one_by_one]
        == [1.0, 0.5 * 0.5 * 0.8, 0.0, 0.0, 0.0, 0.8 + 0.2 / 3]
    )
    assert [r.metadata.errors for r in many] == [r.metadata.errors for r in one_by_one]
    assert many[3].metadata.errors.sample_parse_error
    assert many[4].metadata.errors.python_grader_runtime_error
    assert many[1].sub_rewards == {"correct": 0.5, "evidence": 0.5, "tools": 0.0}


def test_run_grader_many_keeps_per_case_time_limits():
    from rftkit.graders import SandboxLimits, run_grader_many

    grader = {
        "type": "python",
        "name": "p",
        "source": (
            "def grade(s, i):\n    while s['output_text'] == 'loop':\n        pass\n    return 1.0"
        ),
    }
    results = run_grader_many(
        grader, [("a", {}), ("loop", {}), ("b", {})], limits=SandboxLimits(timeout_s=1.0)
    )
    assert [r.reward for r in results] == [1.0, 0.0, 1.0]
    assert "TimeoutError" in results[1].metadata.errors.python_grader_runtime_error_details
