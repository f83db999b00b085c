"""OpenAICompatiblePolicy through the real ``openai`` client against a local Responses stand-in."""

import openai
import pytest
from fake_responses import FAKE_MODEL, fake_responses_app
from rollout_fakes import EndpointLog, fake_tool_app, item, job_tools

from rftkit.rollouts import run_rollouts_sync
from rftkit.rollouts.openai_policy import OpenAICompatiblePolicy, responses_tools
from rftkit.serving import serve_in_background

API_KEY = "fake-test-key-never-logged-0123"
ECHO_SPEC = {
    "type": "function",
    "function": {
        "name": "echo",
        "description": "Echo text.",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
            "additionalProperties": False,
        },
    },
}


def grade_contains_hello(sample, item, trace_id):
    return float("hello" in sample.output_text)


@pytest.fixture
def servers():
    bodies, log = [], EndpointLog()
    with (
        serve_in_background(fake_responses_app(bodies)) as model_url,
        serve_in_background(fake_tool_app(log)) as tool_url,
    ):
        yield model_url, tool_url, bodies, log


def _policy(model_url, **options):
    client = openai.AsyncOpenAI(base_url=f"{model_url}/v1", api_key=API_KEY, max_retries=0)
    return OpenAICompatiblePolicy(client, "some-model", **options)


def test_rollout_with_parallel_calls_through_the_real_openai_client(servers):
    model_url, tool_url, bodies, log = servers
    line = item(question="hello") | {"tools": [ECHO_SPEC]}
    policy = _policy(model_url, reasoning_effort="low")
    [trace] = run_rollouts_sync(
        [line], policy, tools=job_tools(tool_url), grader=grade_contains_hello, progress=False
    )
    assert trace.status == "completed" and trace.reward == 1.0
    assert trace.sample.output_text == "echo: hello #0 + echo: hello #1"
    assert len(log.calls) == 2 and {c.trace_id for c in log.calls} == {trace.trace_id}
    first, second = bodies
    assert first["model"] == "some-model" and first["reasoning"] == {"effort": "low"}
    assert first["parallel_tool_calls"] is True and first["store"] is False
    assert first["tools"] == responses_tools([ECHO_SPEC])
    assert first["tools"][0]["name"] == "echo" and "function" not in first["tools"][0]
    assert [i.get("type", i.get("role")) for i in second["input"]] == [
        "user",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
    ]
    generations = [s.span_data for s in trace.spans if s.span_data.type == "generation"]
    assert [g.model for g in generations] == [FAKE_MODEL, FAKE_MODEL]
    assert [g.usage.reasoning_tokens for g in generations] == [12, 12]
    assert [g.usage.input_tokens for g in generations] == [50, 100]
    assert API_KEY not in trace.model_dump_json() and API_KEY not in repr(policy)


def test_options_pass_through_and_tools_are_optional(servers):
    model_url, tool_url, bodies, _ = servers
    policy = _policy(model_url, parallel_tool_calls=False, max_output_tokens=64)
    line = item() | {"tools": [ECHO_SPEC]}
    run_rollouts_sync(
        [line], policy, tools=job_tools(tool_url), grader=grade_contains_hello, progress=False
    )
    assert bodies[0]["parallel_tool_calls"] is False and bodies[0]["max_output_tokens"] == 64
    assert "reasoning" not in bodies[0]
    [no_tools] = run_rollouts_sync(
        [item()], policy, tools=[], grader=grade_contains_hello, progress=False
    )
    assert "tools" not in bodies[-1] and no_tools.sample.output_text == "no tools"


def test_a_failing_model_server_discards_the_rollout():
    bodies = []
    with serve_in_background(fake_responses_app(bodies, fail_with=503)) as model_url:
        [trace] = run_rollouts_sync(
            [item()], _policy(model_url), tools=[], grader=grade_contains_hello, progress=False
        )
    assert trace.status == "discarded" and trace.reward is None
    assert trace.error.startswith("policy some-model failed: InternalServerError")
    assert API_KEY not in trace.error


def test_policy_from_env_picks_the_configured_service_and_hides_keys():
    from rftkit.rollouts.openai_policy import policy_from_env

    assert policy_from_env({}) is None
    local = policy_from_env({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "RFTKIT_MODEL": "qwen"})
    assert local.model == "qwen" and str(local.client.base_url) == "http://127.0.0.1:8000/v1/"
    hosted = policy_from_env({"OPENAI_API_KEY": API_KEY})
    assert hosted.model == "gpt-5-mini" and hosted.reasoning_effort == "low"
    assert API_KEY not in repr(hosted)
    azure = policy_from_env(
        {"AZURE_OPENAI_API_KEY": API_KEY, "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"}
    )
    assert isinstance(azure.client, openai.AsyncAzureOpenAI)
