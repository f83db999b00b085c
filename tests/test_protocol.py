"""The wire format against the documented payloads (docs/hosted-api.md §4.2–§4.4, §5.1, §6.5)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rftkit.protocol import (
    FunctionCall,
    FunctionCallOutput,
    GraderRequest,
    GraderResponse,
    JobTool,
    Sample,
    Span,
    ToolCall,
    Trace,
)


def _deep_object(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


# Verbatim from Microsoft's RFT_ToolCall README and OpenAI's build-hours 20-agent-rft
# (docs/hosted-api.md §4.2), with a dataset line as `item`.
TOOL_CALL = {
    "type": "function_call",
    "id": "fc_123",
    "call_id": "call_123",
    "name": "search_catalog",
    "arguments": '{"query":"Urban Puffer","top_k":3}',
    "trace_id": "trace_abc",
    "item": {
        "messages": [{"role": "user", "content": "Find 'Urban Puffer'. Return ONLY the SKU."}],
        "reference_answer": "JKT-URB-009",
    },
}
TOOL_REPLY = {
    "type": "function_call_output",
    "call_id": "call_123",
    "id": "fc_123",
    "output": "<string shown to the model>",
}
GRADER_REQUEST = {
    "sample": {
        "output_text": "JKT-URB-009",
        "output_json": None,
        "output_tools": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "search_catalog", "arguments": '{"query": "Urban Puffer"}'},
            }
        ],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "JKT-URB-009"}}],
        "output_reasoning_summary": None,
    },
    "item": {"reference_answer": "JKT-URB-009", "tools": None, "parallel_tool_calls": True},
    "trace_id": "trace_abc",
}


@pytest.mark.parametrize(
    ("model", "payload"),
    [(FunctionCall, TOOL_CALL), (FunctionCallOutput, TOOL_REPLY), (GraderRequest, GRADER_REQUEST)],
)
def test_documented_payloads_round_trip(model, payload):
    parsed = model.model_validate_json(json.dumps(payload))
    assert json.loads(parsed.model_dump_json(exclude_unset=True)) == payload


def test_object_arguments_are_normalised_to_a_json_string():
    call = FunctionCall.model_validate({**TOOL_CALL, "arguments": {"query": "Urban Puffer"}})
    assert call.arguments == '{"query": "Urban Puffer"}'
    assert call.parsed_arguments() == {"query": "Urban Puffer"}


def test_unknown_fields_from_the_service_are_kept():
    call = FunctionCall.model_validate({**TOOL_CALL, "parallel_tool_calls": True})
    assert call.model_dump()["parallel_tool_calls"] is True


def test_bh20_reply_without_type_gets_the_documented_type():
    reply = FunctionCallOutput.model_validate({"output": "x", "call_id": "c", "id": "fc"})
    assert reply.type == "function_call_output"


def _error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) for err in exc.errors()}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"trace_id": 42}, "trace_id", "valid string"),
        ({"trace_id": ""}, "trace_id", "at least 1"),
        ({"arguments": "{not json"}, "arguments", "not valid JSON"),
        ({"arguments": "[1, 2]"}, "arguments", "JSON object"),
        ({"arguments": 7}, "arguments", "JSON object"),
        ({"type": "message"}, "type", "function_call"),
        ({"call_id": ""}, "call_id", "at least 1"),
        # Hostile arguments (issue 15): each a ValidationError, never a RecursionError.
        ({"arguments": '{"a":' * 1000 + "1" + "}" * 1000}, "arguments", "deeper than"),
        ({"arguments": "[" * 5000}, "arguments", "deeper than"),
        ({"arguments": _deep_object(1000)}, "arguments", "cannot be encoded"),
        ({"arguments": _deep_object(100)}, "arguments", "deeper than"),
        ({"arguments": '{"x": NaN}'}, "arguments", "finite"),
        ({"arguments": {"x": float("inf")}}, "arguments", "cannot be encoded"),
        ({"arguments": '{"x": 1, "x": 2}'}, "arguments", "appears twice"),
        ({"arguments": '{"x": "\\ud800"}'}, "arguments", "surrogate"),
        ({"arguments": '{"x": ' + "9" * 5000 + "}"}, "arguments", "too long"),
    ],
)
def test_invalid_tool_calls_name_the_field(change, field, words):
    payload = {**TOOL_CALL, **change}
    with pytest.raises(ValidationError) as info:
        FunctionCall.model_validate(payload)
    assert field in _error_fields(info.value)
    assert words in str(info.value)


def test_missing_trace_id_is_rejected():
    payload = {k: v for k, v in TOOL_CALL.items() if k != "trace_id"}
    with pytest.raises(ValidationError) as info:
        FunctionCall.model_validate(payload)
    assert _error_fields(info.value) == {"trace_id"}


def test_function_call_output_must_be_a_string():
    with pytest.raises(ValidationError) as info:
        FunctionCallOutput.model_validate({**TOOL_REPLY, "output": {"rows": 3}})
    assert _error_fields(info.value) == {"output"}


def test_grader_response_takes_a_finite_score():
    assert GraderResponse.model_validate_json('{"score": 0.5}').score == 0.5
    for bad in ('{"score": "high"}', '{"score": NaN}', "{}"):
        with pytest.raises(ValidationError):
            GraderResponse.model_validate_json(bad)


def test_sample_from_text_fills_output_json_for_any_valid_json():
    # graders.run: "output_json will be populated if the model sample is a valid JSON string"
    assert Sample.from_text('{"answer": "12.5"}').output_json == {"answer": "12.5"}
    assert Sample.from_text("12.5").output_json == 12.5
    assert Sample.from_text("[1, 2]").output_json == [1, 2]
    assert Sample.from_text("plain").output_json is None
    for not_json in ("NaN", "[Infinity]", "[" * 5000, "[" * 101 + "]" * 101, "1" * 5000):
        assert Sample.from_text(not_json).output_json is None, not_json[:10]
    assert Sample.from_text("[" * 100 + "]" * 100).output_json is not None
    assert Sample.from_text('{"a": "' + "[" * 500 + '"}').output_json == {"a": "[" * 500}


def test_sample_has_the_documented_keys_and_chat_completions_choices():
    from openai.types.chat.chat_completion import Choice

    plain = Sample.from_text("plain").model_dump()
    assert set(plain) == {"output_text", "output_json", "output_tools", "choices", "output_audio"}
    assert plain["output_audio"] is None
    choice = Choice.model_validate(plain["choices"][0])
    assert (choice.finish_reason, choice.message.content) == ("stop", "plain")
    assert choice.message.tool_calls is None
    call = ToolCall.model_validate(
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    )
    cut_off = Choice.model_validate(Sample.from_text("", [call]).model_dump()["choices"][0])
    assert cut_off.finish_reason == "tool_calls"
    assert cut_off.message.tool_calls[0].function.name == "f"
    answered = Choice.model_validate(Sample.from_text("42", [call]).model_dump()["choices"][0])
    assert (answered.finish_reason, answered.message.content) == ("stop", "42")
    assert answered.message.tool_calls[0].id == "c1"


def test_job_tool_keeps_headers_out_of_repr_and_masks_on_request():
    tool = JobTool(
        name="search",
        server_url="https://ws--rft-tools.modal.run/search",
        headers={"Authorization": "Bearer s3cret-token"},
    )
    assert "s3cret" not in repr(tool) and "s3cret" not in str(tool)
    assert tool.model_dump()["headers"] == {"Authorization": "Bearer s3cret-token"}
    assert tool.redacted()["headers"] == {"Authorization": "**********"}
    with pytest.raises(ValidationError):
        JobTool(name="search", server_url="ftp://host/x")


def test_spans_accept_openai_eval_casing_and_trace_counts_tool_calls():
    spans = [
        {
            "trace_id": "trace_abc",
            "span_id": "s1",
            "started_at": 1.0,
            "ended_at": 1.5,
            "span_data": {
                "type": "GENERATION",
                "output_text": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "search", "arguments": "{}"},
                    }
                ],
            },
        },
        {
            "trace_id": "trace_abc",
            "span_id": "s2",
            "started_at": 1.5,
            "ended_at": 1.75,
            "span_data": {"type": "FUNCTION", "name": "search", "input": "{}", "output": "3 hits"},
        },
    ]
    trace = Trace(
        trace_id="trace_abc",
        policy="scripted:efficient",
        status="completed",
        started_at=1.0,
        ended_at=2.0,
        spans=[Span.model_validate(s) for s in spans],
        reward=1.0,
    )
    assert trace.tool_calls == 1
    assert trace.spans[1].duration == pytest.approx(0.25)
    assert Trace.model_validate_json(trace.model_dump_json()) == trace


def test_a_discarded_rollout_cannot_carry_a_reward():
    with pytest.raises(ValidationError, match="discarded"):
        Trace(trace_id="t", policy="p", status="discarded", started_at=0, ended_at=1, reward=0.0)


# Property-based fuzzing (issue 15): whatever arrives, the models answer a ValidationError or a
# model that writes itself back out; never another exception.
FUZZ = settings(max_examples=120, deadline=2000, database=None)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.integers(1, 3000).map(lambda n: "[" * n)
    | st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n)
    | st.sampled_from(["NaN", '{"x": Infinity}', '{"k": 1, "k": 2}', '{"s": "\\udfff"}'])
)
VALUES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=12,
)
GRADER_REPLY = {"score": 0.5}
DOCUMENTED = [
    (FunctionCall, TOOL_CALL),
    (FunctionCallOutput, TOOL_REPLY),
    (GraderRequest, GRADER_REQUEST),
    (GraderResponse, GRADER_REPLY),
]


@FUZZ
@given(st.sampled_from(DOCUMENTED), st.data())
def test_a_payload_with_any_field_replaced_validates_or_says_why(case, data):
    model, payload = case
    key = data.draw(st.sampled_from([*payload, "extra_field"]))
    mutated = {**payload, key: data.draw(VALUES)}
    try:
        parsed = model.model_validate(mutated)
    except ValidationError:
        return
    assert model.model_validate_json(parsed.model_dump_json()) is not None


@FUZZ
@given(st.sampled_from(DOCUMENTED), st.data())
def test_any_body_validates_or_says_why(case, data):
    model, payload = case
    key = data.draw(st.sampled_from([*payload, "extra_field"]))
    body = json.dumps({**payload, key: data.draw(VALUES)}).encode()
    raw = data.draw(st.sampled_from([body, body[: len(body) // 2]]) | st.binary(max_size=200))
    try:
        parsed = model.model_validate_json(raw)
    except ValidationError:
        return
    assert model.model_validate_json(parsed.model_dump_json()) is not None
