"""Endpoint graders over real HTTP: the client, the grader server, auth, failures, Modal file."""

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rftkit.course.grader import course_grader
from rftkit.graders import GraderValidationError, run_grader, run_grader_async
from rftkit.graders.server import create_grader_app
from rftkit.protocol import GraderRequest, Sample, ToolCall
from rftkit.serving import serve_in_background

TOKEN = "grader-secret-token-123"
ITEM = {
    "reference_answer": "911.4",
    "reference_value": 911.4,
    "unit": "USD millions",
    "min_tool_calls": 1,
}
EXACT = {
    "type": "string_check",
    "name": "exact",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
}


def endpoint(url, token=TOKEN):
    return {
        "type": "endpoint",
        "name": "remote",
        "url": url,
        "headers": {"Authorization": f"Bearer {token}"},
    }


@pytest.fixture(scope="module")
def grader_url():
    with serve_in_background(create_grader_app(course_grader(), token=TOKEN)) as base_url:
        yield f"{base_url}/grade"


def test_endpoint_grader_runs_the_served_grader_over_http(grader_url):
    tools = [ToolCall(id="c1", function={"name": "read_file", "arguments": "{}"})]
    result = run_grader(endpoint(grader_url), Sample.from_text("911.4", tools=tools), ITEM)
    assert result.ok and result.reward == 1.0
    partial = run_grader(endpoint(grader_url), Sample.from_text("911", tools=tools), ITEM)
    assert partial.reward == 0.5


def test_server_answers_the_protocol_and_reports_flags(grader_url):
    request = GraderRequest(sample=Sample.from_text("911.4"), item={}, trace_id="trace_abc")
    response = httpx.post(
        grader_url, content=request.model_dump_json(), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["score"] == 0.0 and "python_grader_runtime_error" in body["errors"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
)
def test_server_refuses_without_the_token(grader_url, headers):
    request = GraderRequest(sample=Sample.from_text("911.4"), item=ITEM, trace_id="trace_abc")
    response = httpx.post(grader_url, content=request.model_dump_json(), headers=headers)
    assert response.status_code == 401
    assert TOKEN not in response.text


def test_server_validates_the_body_and_size(grader_url):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.post(grader_url, json={"sample": {"output_text": "x"}, "item": {}}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["trace_id"]
    huge = {"sample": {"output_text": "x" * 1_100_000}, "item": {}, "trace_id": "trace_1"}
    assert httpx.post(grader_url, json=huge, headers=auth).status_code == 413


def test_token_never_reaches_logs_or_errors(grader_url, caplog):
    caplog.set_level(logging.DEBUG)
    dead = endpoint("http://127.0.0.1:9/grade")
    result = run_grader(dead, "911.4", ITEM)
    assert result.metadata.errors.unresponsive_reward_error
    refused = run_grader(endpoint(grader_url, token="nope"), "911.4", ITEM)
    assert refused.metadata.errors.other_error and "401" in refused.metadata.error_details[0]
    everything = caplog.text + result.model_dump_json() + refused.model_dump_json()
    assert TOKEN not in everything and "nope" not in everything


def flaky_app(failures: int, status: int = 503, body=None):
    app = FastAPI()
    seen = {"calls": 0, "trace_ids": []}

    @app.post("/grade")
    async def grade(request: Request):
        payload = await request.json()
        seen["calls"] += 1
        seen["trace_ids"].append(payload["trace_id"])
        if seen["calls"] <= failures:
            return JSONResponse({"error": "busy"}, status_code=status)
        return body if body is not None else {"score": 0.75}

    return app, seen


def test_5xx_is_retried_and_the_trace_id_forwarded():
    app, seen = flaky_app(failures=2)
    with serve_in_background(app) as base_url:
        result = run_grader(endpoint(f"{base_url}/grade"), "x", {}, trace_id="trace_fixed")
    assert result.reward == 0.75 and seen["calls"] == 3
    assert seen["trace_ids"] == ["trace_fixed"] * 3


def test_persistent_5xx_is_unresponsive_and_4xx_is_not_retried():
    app, seen = flaky_app(failures=10)
    with serve_in_background(app) as base_url:
        result = run_grader(endpoint(f"{base_url}/grade"), "x", {})
    assert result.reward == 0 and result.metadata.errors.unresponsive_reward_error
    assert seen["calls"] == 3
    app, seen = flaky_app(failures=10, status=400)
    with serve_in_background(app) as base_url:
        result = run_grader(endpoint(f"{base_url}/grade"), "x", {})
    assert result.metadata.errors.other_error and seen["calls"] == 1


@pytest.mark.parametrize("body", [{"result": 1}, {"score": "high"}, ["x"]])
def test_invalid_score_bodies_are_flagged(body):
    app, _ = flaky_app(failures=0, body=body)
    with serve_in_background(app) as base_url:
        result = run_grader(endpoint(f"{base_url}/grade"), "x", {})
    assert result.reward == 0 and result.metadata.errors.other_error


def test_async_variant_grades_concurrently_inside_a_multi(grader_url):
    grader = {
        "type": "multi",
        "name": "m",
        "calculate_output": "0.5 * local + 0.5 * remote",
        "graders": {"local": EXACT, "remote": endpoint(grader_url)},
    }

    async def main():
        return await asyncio.gather(*(run_grader_async(grader, "911.4", ITEM) for _ in range(4)))

    results = asyncio.run(main())
    # remote: right answer but no tool calls (lucky guess) -> 0.5 * 0.8; local exact -> 1
    assert [r.reward for r in results] == [0.7] * 4
    assert results[0].sub_rewards == {"local": 1.0, "remote": 0.4}


def test_server_refuses_an_invalid_grader_at_start():
    with pytest.raises(GraderValidationError, match="operation"):
        create_grader_app({**EXACT, "operation": "neq"})


def test_modal_file_imports_offline_and_builds_the_app():
    from rftkit.graders import modal_app

    assert modal_app.app.name == "rftkit-grader"
    web = modal_app.web.local()
    assert isinstance(web, FastAPI)
    assert {route.path for route in web.routes} >= {"/grade", "/healthz"}


@pytest.mark.parametrize(
    ("text", "sent"), [("911.4\ud800", "911.4\ufffd"), ("911.4\x00", "911.4\x00")]
)
def test_a_lone_surrogate_or_nul_in_the_answer_is_graded_not_raised(text, sent):
    """Issue #26: a lone surrogate raised PydanticSerializationError out of run_grader. It is
    sent as U+FFFD (UTF-8 cannot carry it); NUL is sent as it is."""
    seen = []
    app = FastAPI()

    @app.post("/grade")
    async def grade(request: Request):
        seen.append((await request.json())["sample"]["output_text"])
        return {"score": 0.75}

    with serve_in_background(app) as base_url:
        result = run_grader(endpoint(f"{base_url}/grade"), text, ITEM)
    assert result.ok and result.reward == 0.75
    assert seen == [sent]
