"""Property-based fuzzing (Hypothesis) of the formula parser, the template renderer and the local
grader engine: whatever the text, they answer or refuse with their own error — never crash.

Bounded (``max_examples``, no deadline flakiness) so the file runs in seconds.
"""

import math
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rftkit.graders import GraderValidationError, run_grader, validate_grader
from rftkit.graders.formula import FUNCTIONS, Formula, FormulaError, FormulaEvaluationError
from rftkit.graders.templating import TemplateError, render

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FORMULA_ALPHABET = string.digits + "ab .,+-*/^()eE" + "minaxbsflorcepqt_"
SCORES = st.fixed_dictionaries(
    {"a": st.floats(-10, 10, allow_nan=False), "b": st.floats(-10, 10, allow_nan=False)}
)


def _evaluates_or_refuses(formula, scores):
    try:
        value = formula.evaluate(scores)
    except FormulaEvaluationError:
        return
    assert isinstance(value, float) and math.isfinite(value)


@FAST
@given(st.text(FORMULA_ALPHABET, max_size=80) | st.text(max_size=40), SCORES)
def test_formula_parser_answers_or_refuses_any_text(text, scores):
    try:
        formula = Formula.parse(text)
    except FormulaError as exc:
        assert 0 <= exc.position <= len(text)
        return
    _evaluates_or_refuses(formula, scores)


def _power(base, exponent):
    value = base**exponent
    if isinstance(value, complex):
        raise ValueError("not a real number")
    return value


_PYTHON = {
    "pow": _power,
    "min": min,
    "max": max,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}


def _expressions():
    """(formula, python source) pairs, fully parenthesised, evaluated by Python as a reference."""
    leaves = st.sampled_from(["a", "b", "0", "1", "2", "0.5", "3e2"]).map(lambda t: (t, t))

    def extend(children):
        binary = st.tuples(children, st.sampled_from("+-*/^"), children).map(
            lambda t: (
                f"({t[0][0]} {t[1]} {t[2][0]})",
                f"F['pow']({t[0][1]}, {t[2][1]})"
                if t[1] == "^"
                else f"({t[0][1]} {t[1]} {t[2][1]})",
            )
        )
        negated = children.map(lambda c: (f"(-{c[0]})", f"(-{c[1]})"))
        call = st.tuples(
            st.sampled_from(sorted(FUNCTIONS)), st.lists(children, min_size=1, max_size=3)
        )
        calls = call.map(
            lambda t: (
                f"{t[0]}({', '.join(c[0] for c in t[1])})",
                f"F[{t[0]!r}]({', '.join(c[1] for c in t[1])})",
            )
        )
        return binary | negated | calls

    return st.recursive(leaves, extend, max_leaves=12)


@FAST
@given(_expressions(), SCORES)
def test_well_formed_formulas_agree_with_python(pair, scores):
    text, source = pair
    try:
        formula = Formula.parse(text)
    except FormulaError as exc:  # only wrong arities are refused among generated formulas
        assert "argument" in exc.reason
        return
    try:
        expected = float(eval(source, {"F": _PYTHON}, dict(scores)))  # the reference oracle
    except (ArithmeticError, ValueError):
        expected = None
    if expected is None or not math.isfinite(expected):
        try:
            formula.evaluate(scores)
        except FormulaEvaluationError:
            return
        raise AssertionError(f"{text} should not evaluate on {scores}")
    assert math.isclose(formula.evaluate(scores), expected, rel_tol=1e-9, abs_tol=1e-12)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text("abxy_", min_size=1, max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)
TEMPLATE_TEXT = st.text("{} .[]0123abxy_itemsaple\n", max_size=60) | st.text(max_size=30)


@FAST
@given(TEMPLATE_TEXT, st.dictionaries(st.text("abxy_", min_size=1, max_size=3), JSON, max_size=3))
def test_renderer_fills_or_names_the_placeholder(text, item):
    context = {"item": item, "sample": {"output_text": "x", "output_json": item}}
    try:
        rendered = render(text, context)
    except TemplateError as exc:
        assert exc.variable in text
        return
    assert isinstance(rendered, str)
    if "{{" not in text:
        assert rendered == text


def check(input_, reference):
    return {
        "type": "string_check",
        "name": "c",
        "operation": "eq",
        "input": input_,
        "reference": reference,
    }


@FAST
@given(TEMPLATE_TEXT, TEMPLATE_TEXT)
def test_validated_templates_never_leave_an_open_placeholder(input_, reference):
    try:
        validate_grader(check(input_, reference))
    except GraderValidationError as exc:
        assert exc.path in ("input", "reference")
        return
    result = run_grader(check(input_, reference), "x", {"a": "1"})
    assert result.reward in (0.0, 1.0)


GRADERS = [
    check("{{sample.output_text}}", "{{item.reference_answer}}"),
    check("{{sample.output_json.answer}}", "{{item.reference_answer}}"),
    *(
        {
            "type": "text_similarity",
            "name": metric,
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference_answer}}",
            "evaluation_metric": metric,
        }
        for metric in ("fuzzy_match", "bleu", "gleu", "rouge_1", "rouge_l")
    ),
]
MODEL_OUTPUT = (
    st.text(max_size=200)
    | st.text('[]{}":,0123456789.eE-+ naNIfinity', max_size=300)
    | st.integers(1, 3000).map(lambda n: "[" * n)
)


@settings(max_examples=150, deadline=None)
@given(MODEL_OUTPUT, st.sampled_from(GRADERS))
def test_local_graders_score_any_model_output(output, grader):
    result = run_grader(grader, output, {"reference_answer": "911.4"})
    assert math.isfinite(result.reward) and 0.0 <= result.reward <= 1.0


FIELDS = st.sampled_from(
    ["name", "input", "reference", "operation", "evaluation_metric", "source", "graders",
     "calculate_output", "model", "labels", "passing_labels", "range", "url", "image_tag"]
)  # fmt: skip
CONFIG = st.dictionaries(FIELDS, JSON | TEMPLATE_TEXT, max_size=6).flatmap(
    lambda fields: st.sampled_from(
        ["string_check", "text_similarity", "python", "multi", "score_model", "label_model",
         "endpoint", "regex"]
    ).map(lambda kind: {**fields, "type": kind})
)  # fmt: skip


@FAST
@given(
    CONFIG
    | st.builds(
        lambda sub: {"type": "multi", "graders": {"a": sub}, "calculate_output": "a"}, CONFIG
    )
)
def test_validator_refuses_any_malformed_config_with_its_own_error(config):
    try:
        validate_grader(config)
    except GraderValidationError:
        return
    kinds = {config["type"], *(sub["type"] for sub in config.get("graders", {}).values())}
    if kinds <= {"string_check", "text_similarity", "multi"}:  # no network, model or process
        run_grader(config, "x", {"a": "1"})  # a config that validates also runs without raising
