"""Model graders through the real ``openai`` client against a local fake chat-completions server.

The fake validates every request body against the SDK's own param types (unknown keys are
refused too), so what the engine sends is what the real API accepts.
"""

import asyncio
import json

import openai
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsBase,
    CompletionCreateParamsNonStreaming,
)
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import TypeAdapter, ValidationError

from rftkit.graders import run_grader, run_grader_async, validate_grader
from rftkit.serving import serve_in_background

ALLOWED_KEYS = set(CompletionCreateParamsBase.__annotations__) | {"stream"}


def validate_request(body: dict) -> None:
    unknown = set(body) - ALLOWED_KEYS
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)}")
    TypeAdapter(CompletionCreateParamsNonStreaming).validate_python(body)
    for message in body["messages"]:
        TypeAdapter(ChatCompletionMessageParam).validate_python(message, strict=False)
    TypeAdapter(ResponseFormatJSONSchema).validate_python(body["response_format"])
    schema = body["response_format"]["json_schema"]["schema"]
    assert (
        schema["required"] == ["steps", "result"]
        and body["response_format"]["json_schema"]["strict"]
    )


def fake_chat_server(reply):
    """``reply(body)`` returns a message dict, or an int HTTP status to fail with."""
    app = FastAPI()
    app.state.bodies = []

    @app.post("/v1/chat/completions")
    async def create(request: Request):
        body = await request.json()
        try:
            validate_request(body)
        except (ValidationError, ValueError, AssertionError) as exc:
            return JSONResponse({"error": {"message": str(exc)[:500], "type": "invalid"}}, 400)
        app.state.bodies.append(body)
        answer = reply(body)
        if isinstance(answer, int):
            return JSONResponse({"error": {"message": "boom", "type": "server"}}, answer)
        completion = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"] + "-fake",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **answer}}
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
        }
        ChatCompletion.model_validate(completion)
        return completion

    return app


def answer(result):
    return {
        "content": json.dumps(
            {"steps": [{"description": "d", "conclusion": "c"}], "result": result}
        )
    }


SCORE = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4.1-mini-2025-04-14",
    "input": [
        {"role": "system", "content": "Score 0-1. Reference: {{item.reference_answer}}"},
        {
            "role": "user",
            "content": [{"type": "input_text", "text": "Answer: {{sample.output_text}}"}],
        },
    ],
    "range": [0, 1],
    "sampling_params": {"temperature": 0, "seed": 7, "max_completions_tokens": 200},
}
LABEL = {
    "type": "label_model",
    "name": "verdict",
    "model": "gpt-4.1-mini-2025-04-14",
    "input": [
        {"role": "user", "content": "Is {{sample.output_text}} = {{item.reference_answer}}?"}
    ],
    "labels": ["correct", "partly", "wrong"],
    "passing_labels": ["correct"],
}
ITEM = {"reference_answer": "911.4"}


@pytest.fixture
def served():
    def start(reply):
        app = fake_chat_server(reply)
        context = serve_in_background(app)
        base_url = context.__enter__()
        started.append(context)
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-fake-key", max_retries=0)
        return client, app.state.bodies

    started = []
    yield start
    for context in started:
        context.__exit__(None, None, None)


@pytest.mark.parametrize(("result", "reward"), [(0.8, 0.8), (1.7, 1.0), (-3, 0.0), (1, 1.0)])
def test_score_model_clips_to_range(served, result, reward):
    client, bodies = served(lambda body: answer(result))
    graded = run_grader(SCORE, "911.4", ITEM, model_client=client)
    assert graded.ok and graded.reward == reward
    sent = bodies[0]
    assert sent["messages"][0]["content"] == "Score 0-1. Reference: 911.4"
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "Answer: 911.4"}]
    assert sent["temperature"] == 0 and sent["seed"] == 7 and sent["max_completion_tokens"] == 200
    assert graded.metadata.sampled_model_name == "gpt-4.1-mini-2025-04-14-fake"
    assert graded.model_grader_token_usage_per_model == {
        "gpt-4.1-mini-2025-04-14-fake": {
            "prompt_tokens": 11,
            "completion_tokens": 5,
            "total_tokens": 16,
            "cached_tokens": 0,
        }
    }
    assert graded.metadata.token_usage == 16


def test_score_model_custom_range(served):
    client, _ = served(lambda body: answer(7))
    graded = run_grader({**SCORE, "range": [0, 5]}, "x", ITEM, model_client=client)
    assert graded.reward == 5.0 and graded.ok
    assert graded.metadata.notes == ["reward = 5 is outside [0, 1]"]


@pytest.mark.parametrize(("label", "reward"), [("correct", 1.0), ("partly", 0.0), ("wrong", 0.0)])
def test_label_model_passes_only_passing_labels(served, label, reward):
    client, bodies = served(lambda body: answer(label))
    graded = run_grader(LABEL, "911.4", ITEM, model_client=client)
    assert graded.ok and graded.reward == reward
    enum = bodies[0]["response_format"]["json_schema"]["schema"]["properties"]["result"]["enum"]
    assert enum == ["correct", "partly", "wrong"]


@pytest.mark.parametrize(
    ("reply", "flag"),
    [
        (lambda body: {"content": "0.9"}, "model_grader_parse_error"),
        (lambda body: answer("high"), "model_grader_parse_error"),
        (lambda body: {"content": "[" * 5000}, "model_grader_parse_error"),  # issue #15
        (lambda body: {"content": '{"result": NaN, "steps": []}'}, "model_grader_parse_error"),
        (lambda body: {"content": None, "refusal": "I can't help"}, "model_grader_refusal_error"),
        (lambda body: 500, "model_grader_server_error"),
        (lambda body: 429, "model_grader_server_error"),
    ],
)
def test_model_failures_are_flags(served, reply, flag):
    client, _ = served(reply)
    graded = run_grader(SCORE, "911.4", ITEM, model_client=client)
    assert graded.reward == 0.0 and getattr(graded.metadata.errors, flag)
    assert "sk-fake-key" not in graded.model_dump_json()


def test_label_outside_the_set_is_a_parse_error(served):
    client, _ = served(lambda body: answer("maybe"))
    graded = run_grader(LABEL, "911.4", ITEM, model_client=client)
    assert graded.metadata.errors.model_grader_parse_error


def test_no_client_and_no_key_is_a_clear_flag(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    graded = run_grader(SCORE, "911.4", ITEM)
    assert graded.reward == 0.0 and graded.metadata.errors.model_grader_server_error
    assert "OPENAI_API_KEY" in graded.metadata.errors.model_grader_server_error_details


def test_model_grader_inside_multi(served):
    client, _ = served(lambda body: answer("correct"))
    exact = {
        "type": "string_check",
        "name": "e",
        "operation": "eq",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
    }
    grader = {
        "type": "multi",
        "name": "m",
        "calculate_output": "min(exact, verdict)",
        "graders": {"exact": exact, "verdict": LABEL},
    }
    validate_grader(grader)
    graded = run_grader(grader, "911.4", ITEM, model_client=client)
    assert graded.reward == 1.0 and graded.sub_rewards == {"exact": 1.0, "verdict": 1.0}


def test_validation_of_model_graders():
    from rftkit.graders import GraderValidationError

    with pytest.raises(GraderValidationError, match="passing_labels"):
        validate_grader({**LABEL, "passing_labels": ["great"]})
    with pytest.raises(GraderValidationError, match="range"):
        validate_grader({**SCORE, "range": [1, 0]})
    with pytest.raises(GraderValidationError, match=r"input\.0\.role"):
        validate_grader({**SCORE, "input": [{"role": "judge", "content": "x"}]})
    assert validate_grader({k: v for k, v in SCORE.items() if k != "range"})["range"] == [0.0, 1.0]


def test_the_fake_refuses_what_the_api_would(served):
    client, _ = served(lambda body: answer(1))
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "x",
            "strict": True,
            "schema": {"type": "object", "required": ["steps", "result"]},
        },
    }
    with pytest.raises(openai.BadRequestError, match="unknown parameters"):
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "x"}],
            response_format=schema,
            extra_body={"max_completions_tokens": 5},
        )
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="m", messages=[{"role": "judge", "content": "x"}], response_format=schema
        )


def test_an_async_client_is_awaited(served):
    """Issue #26: an AsyncOpenAI client failed with "'coroutine' object has no attribute
    'choices'"; sync and async entry points both await it now."""
    client, bodies = served(lambda body: answer(0.6))

    def async_client():  # an async client's connections belong to the loop that opened them
        return openai.AsyncOpenAI(base_url=client.base_url, api_key="sk-fake", max_retries=0)

    assert run_grader(SCORE, "911.4", ITEM, model_client=async_client()).reward == 0.6

    async def inside_a_loop():
        return await run_grader_async(SCORE, "911.4", ITEM, model_client=async_client())

    assert asyncio.run(inside_a_loop()).reward == 0.6
    assert len(bodies) == 2
