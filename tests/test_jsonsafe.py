"""Bounded JSON: every refusal is a ValueError that says why, and valid JSON reads as json does."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit._util.jsonsafe import (
    MAX_DEPTH,
    JSONLimitError,
    loads,
    lone_surrogate_path,
    nesting_depth,
)

FUZZ = settings(max_examples=150, deadline=1000, database=None)

TEXT_NO_SURROGATES = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT_NO_SURROGATES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(TEXT_NO_SURROGATES, children, max_size=4)
    ),
    max_leaves=30,
)
JSONISH = st.text(alphabet='[]{}",:\\ 0123456789.eE-+truefalsnNIiy', max_size=200)


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@pytest.mark.parametrize(
    "text",
    ["[" * 5000, "[" * 5000 + "]" * 5000, '{"a":' * 1500 + "1" + "}" * 1500],
    ids=["unclosed", "closed", "objects"],
)
def test_deep_nesting_is_a_value_error_not_a_recursion_error(text):
    with pytest.raises(JSONLimitError, match=f"deeper than {MAX_DEPTH}") as info:
        loads(text)
    assert info.value.code == "too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"text": "[" * 5000 + '\\"{' * 100})
    assert loads(text) == json.loads(text)
    assert nesting_depth(text) == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"a": NaN}', "non_finite"),
        ("[Infinity]", "non_finite"),
        ("-Infinity", "non_finite"),
        ("1e400", "non_finite"),
        ('{"a": 1, "a": 2}', "duplicate_key"),
        ('[{"k": {"x": 1, "x": 1}}]', "duplicate_key"),
        ('"\\ud800"', "lone_surrogate"),
        ('{"ok": ["\\udc00 tail"]}', "lone_surrogate"),
        ("1" * 5000, "number_too_long"),
    ],
)
def test_what_strict_json_forbids_is_refused_by_default(text, code):
    with pytest.raises(JSONLimitError) as info:
        loads(text)
    assert info.value.code == code


def test_each_refusal_can_be_allowed_where_a_caller_needs_it():
    assert math.isnan(loads("NaN", allow_non_finite=True))
    assert loads("1e400", allow_non_finite=True) == math.inf
    assert loads('{"a": 1, "a": 2}', allow_duplicate_keys=True) == {"a": 2}
    assert loads('"\\ud800"', allow_lone_surrogates=True) == "\ud800"
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"  # a proper pair is no lone surrogate


def test_the_lone_surrogate_is_located():
    with pytest.raises(JSONLimitError) as info:
        loads('{"a": [1, "x\\ud800"]}')
    assert info.value.path == "$.a[1]"
    assert lone_surrogate_path({"k\ud800": 1}) == "$ (a key)"


def test_size_is_checked_before_parsing():
    with pytest.raises(JSONLimitError, match="over 10") as info:
        loads(b"[" + b"1," * 10 + b"1]", max_bytes=10)
    assert info.value.code == "too_large"
    with pytest.raises(JSONLimitError):
        loads('"' + "é" * 6 + '"', max_bytes=12)  # 6 characters, 14 bytes of UTF-8


def test_bytes_must_be_utf8():
    with pytest.raises(JSONLimitError) as info:
        loads(b'{"a": "\xff"}')
    assert info.value.code == "not_utf8"


def test_syntax_errors_stay_json_decode_errors_with_their_position():
    with pytest.raises(json.JSONDecodeError) as info:
        loads('{"a": 1,')
    assert info.value.pos == 8


@FUZZ
@given(JSON_VALUES)
def test_any_json_value_reads_back_equal(value):
    text = json.dumps(value)
    assert loads(text) == json.loads(text)
    assert nesting_depth(text) == depth_of(value)


@FUZZ
@given(st.one_of(JSONISH, st.text(max_size=200), st.binary(max_size=200)))
def test_no_input_raises_anything_but_a_value_error(text):
    try:
        value = loads(text)
    except ValueError:
        return
    assert json.loads(json.dumps(value, allow_nan=False).encode()) == value  # strict JSON again
