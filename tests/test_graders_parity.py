"""Parity with OpenAI's ``graders.run``: offline, the request against a fake checked with the
SDK's types; with ``OPENAI_API_KEY``, the same graders on the real service and locally."""

import os

import openai
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from openai.types.fine_tuning.alpha import GraderRunResponse
from openai.types.fine_tuning.alpha.grader_run_params import GraderRunParams
from openai.types.graders.multi_grader_param import Graders as MultiGraders
from pydantic import TypeAdapter, ValidationError

from rftkit.course.grader import course_grader, naive_grader
from rftkit.graders import run_grader
from rftkit.graders.service import differences, run_on_service
from rftkit.serving import serve_in_background

ITEM = {
    "reference_answer": "911.4",
    "reference_value": 911.4,
    "unit": "USD millions",
    "min_tool_calls": 0,
    "reference": "The net income was 911.4 USD millions.",
}


def similarity(metric):
    return {
        "type": "text_similarity",
        "name": metric,
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
        "evaluation_metric": metric,
    }


def check(operation):
    return {
        "type": "string_check",
        "name": operation,
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
        "operation": operation,
    }


CASES = [
    *[(check(op), text) for op in ("eq", "ne", "like", "ilike") for text in ("911.4", "Was 911.4")],
    *[
        (similarity(m), "Net income was 911.4 USD millions.")
        for m in ("fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_l")
    ],
    (naive_grader(), "either 911.4 or 912"),
    (course_grader(), "912"),
    (
        {
            "type": "multi",
            "name": "m",
            "calculate_output": "0.5 * a + max(b, 0.25) ^ 2",
            "graders": {"a": check("eq"), "b": similarity("fuzzy_match")},
        },
        "911.5",
    ),
    ({"type": "python", "name": "p", "source": "def grade(sample, item):\n    return 1 / 0"}, "x"),
    (check("eq") | {"reference": "{{item.missing}}"}, "911.4"),
    ({**check("eq"), "input": "{{sample.output_json.answer}}"}, '{"answer": "911.4"}'),
]


def validate_run_body(body):
    """GraderRunParams, except that a multi's ``graders`` is a dict of sub-graders (the SDK
    types it as one grader; the API takes a dict — docs/hosted-api.md §5.4)."""
    grader = body["grader"]
    if grader.get("type") == "multi":
        for sub in grader["graders"].values():
            TypeAdapter(MultiGraders).validate_python(sub)
        grader = {**grader, "graders": next(iter(grader["graders"].values()))}
    TypeAdapter(GraderRunParams).validate_python({**body, "grader": grader})


def fake_service():
    app = FastAPI()
    app.state.bodies = []

    @app.post("/v1/fine_tuning/alpha/graders/run")
    async def run(request: Request):
        body = await request.json()
        try:
            validate_run_body(body)
        except ValidationError as exc:
            return JSONResponse({"error": {"message": str(exc)[:300]}}, 400)
        app.state.bodies.append(body)
        # Answer what the local engine computes, so the plumbing is what is under test here.
        local = run_grader(body["grader"], body["model_sample"], body.get("item"))
        return local.model_dump()

    return app


def test_run_on_service_sends_sdk_valid_requests_and_reads_the_response():
    app = fake_service()
    with serve_in_background(app) as base_url:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-fake", max_retries=0)
        for grader, text in CASES[:3] + CASES[-4:]:
            remote = run_on_service(grader, text, ITEM, client=client)
            local = run_grader(grader, text, ITEM)
            assert differences(local, remote) == []
            GraderRunResponse.model_validate(remote.model_dump())
    assert app.state.bodies[0] == {"grader": CASES[0][0], "model_sample": "911.4", "item": ITEM}


def test_differences_names_what_differs():
    a = run_grader(check("eq"), "911.4", ITEM)
    b = run_grader(check("eq"), "911", ITEM)
    c = run_grader(check("eq") | {"reference": "{{item.nope}}"}, "911.4", ITEM)
    assert differences(a, a) == []
    assert differences(a, b) == ["reward: local 1.0 vs service 0.0"]
    assert "errors.invalid_variable_error: local False vs service True" in differences(a, c)


needs_key = pytest.mark.skipif(
    not os.environ.get("OPENAI_API_KEY"),
    reason="OPENAI_API_KEY is not set: parity with client.fine_tuning.alpha.graders.run needs "
    "the real service (offline, the request shape is checked against a fake above)",
)


@needs_key
@pytest.mark.parametrize(("grader", "text"), CASES, ids=[f"{g['type']}-{t[:12]}" for g, t in CASES])
def test_local_engine_matches_the_service(grader, text):
    local = run_grader(grader, text, ITEM)
    if "meteor" in str(grader) and local.metadata.errors.other_error:
        pytest.skip(local.metadata.error_details[0])
    try:
        remote = run_on_service(grader, text, ITEM)
    except (openai.PermissionDeniedError, openai.NotFoundError) as exc:
        pytest.skip(f"graders.run is not available to this key: {type(exc).__name__}")
    assert differences(local, remote) == []
