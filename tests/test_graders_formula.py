"""``calculate_output`` (docs/hosted-api.md §5.4): precedence, functions, rejections."""

import math

import pytest

from rftkit.graders.formula import Formula, FormulaError, FormulaEvaluationError


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("8 - 2 - 1", 5),  # left-associative
        ("10 / 4 / 5", 0.5),
        ("2 ^ 3 ^ 2", 512),  # right-associative
        ("-2 ^ 2", -4),  # unary minus binds looser than ^
        ("2 ^ -1", 0.5),
        ("2 * -3", -6),
        ("-(-3)", 3),
        ("+4", 4),
        ("1e-3 * 2", 0.002),
        (".5 + 1.", 1.5),
        ("min(3, 1, 2)", 1),
        ("max(a, b)", 0.75),
        ("abs(-2.5)", 2.5),
        ("floor(2.7) + ceil(2.1)", 5),
        ("sqrt(16)", 4),
        ("log(exp(2))", 2),
        ("2*a*b/max(a+b,1e-9)", 2 * 0.25 * 0.75 / 1.0),
        ("0.7 * a + 0.3 * b", 0.7 * 0.25 + 0.3 * 0.75),
    ],
)
def test_values_and_precedence(formula, expected):
    assert Formula.parse(formula).evaluate({"a": 0.25, "b": 0.75}) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("2 ** 3", "use ^ for powers"),
        ("a.b", "unexpected character '.'"),
        ("__import__('os')", "unexpected character"),
        ("1 +", "expected a number"),
        ("", "empty formula"),
        ("foo(1)", "unknown function 'foo'"),
        ("min()", "min takes at least 2 argument"),
        ("min(a)", "min takes at least 2 argument"),
        ("max(1)", "max takes at least 2 argument"),
        ("1e999 * a", "1e999 is too large"),
        ("(" * 60 + "a" + ")" * 60, "nested more than 50 deep"),
        ("-" * 60 + "a", "nested more than 50 deep"),
        ("+".join(["a"] * 300), "nests more than 200 deep"),
        ("a" * 10_001, "the limit is 10000"),
        ("abs(1, 2)", "abs takes 1 argument"),
        ("max", "max needs arguments"),
        ("1 2", "unexpected '2'"),
        ("(1 + 2", "expected ')'"),
        ("a[0]", "unexpected character '['"),
        ("lambda: 1", "unexpected character ':'"),
        ("1 if a else 2", "unexpected 'if'"),
    ],
)
def test_rejections_name_the_position(formula, reason):
    with pytest.raises(FormulaError) as info:
        Formula.parse(formula)
    assert reason in str(info.value)
    assert "position" in str(info.value)


def test_variables_are_collected():
    assert Formula.parse("0.5 * name + max(tools, 2) - abs(x)").variables == {"name", "tools", "x"}


@pytest.mark.parametrize(
    ("formula", "scores"),
    [
        ("a / b", {"a": 1, "b": 0}),
        ("sqrt(a)", {"a": -1}),
        ("c", {"a": 1}),
        ("a ^ 0.5", {"a": -8}),
        ("ceil(a ^ 0.5)", {"a": -1}),  # found by the fuzzer: a TypeError from math.ceil on main
        ("abs(a ^ 1.5)", {"a": -1}),  # would be a real number in Python, from a complex one
    ],
)
def test_evaluation_failures_raise_not_return(formula, scores):
    with pytest.raises(FormulaEvaluationError):
        Formula.parse(formula).evaluate(scores)


def test_never_uses_eval_on_names():
    # A Python builtin is not a variable of the language: it must come from the scores.
    with pytest.raises(FormulaEvaluationError, match="'len'"):
        Formula.parse("len").evaluate({})
    assert math.isclose(Formula.parse("len").evaluate({"len": 2}), 2)
