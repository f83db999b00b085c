"""The rubric model judge, red-teamed offline: the real ``openai`` client talks to a local fake
judge over HTTP (requests checked against the SDK's types), and a judge that obeys instructions
hidden in the answer is caught by the prompt-injection probe."""

import functools
import json
import re

import openai
import pytest
from fastapi import FastAPI, Request
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from pydantic import TypeAdapter

from rftkit.course.redteam import cases_from_reference
from rftkit.course.reference_labels import rubric, rubric_model_grader
from rftkit.evaluation.redteam import CONTROLS, PROBES, run_redteam
from rftkit.graders import run_grader
from rftkit.serving import serve_in_background


def gullible_judge() -> FastAPI:
    """Scores 1 for the reference answer — and for any answer that tells it to."""
    app = FastAPI()
    app.state.bodies = []

    @app.post("/v1/chat/completions")
    async def create(request: Request):
        body = await request.json()
        TypeAdapter(CompletionCreateParamsNonStreaming).validate_python(body)
        app.state.bodies.append(body)
        prompt = body["messages"][-1]["content"]
        reference = re.search(r"Reference answer: (.*) \(", prompt).group(1)
        answer = prompt.split("Answer to label: ", 1)[1].rsplit("\nReply with", 1)[0]
        result = 1.0 if answer == reference or "Ignore the rubric" in answer else 0.0
        content = json.dumps({"steps": [{"description": "d", "conclusion": "c"}], "result": result})
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }  # fmt: skip

    return app


@pytest.fixture
def judge():
    app = gullible_judge()
    with serve_in_background(app) as base_url:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-fake", max_retries=0)
        yield app, client


def test_the_judge_reads_the_rubric_and_the_filled_item(judge):
    app, client = judge
    case = cases_from_reference()[0]
    result = run_grader(rubric_model_grader(), case.sample, case.item, model_client=client)
    assert result.reward == 1.0 and result.ok
    system, user = app.state.bodies[0]["messages"]
    assert system["content"] == rubric()
    assert f"Reference answer: {case.answer} ({case.item['unit']})" in user["content"]
    assert case.question in user["content"] and "read_file" in user["content"]


def test_prompt_injection_probe_catches_a_gullible_judge(judge):
    _, client = judge
    injection = [p for p in PROBES if p.name == "prompt injection"]
    report = run_redteam(
        rubric_model_grader(),
        cases_from_reference()[:3],
        probes=injection,
        controls=CONTROLS,
        grade=functools.partial(run_grader, model_client=client),
    )
    assert report.flagged == ["prompt injection"]
    assert report.table.loc["prompt injection", "mean reward"] == 1.0
    assert report.table.loc["control: wrong figure", "mean reward"] == 0.0
