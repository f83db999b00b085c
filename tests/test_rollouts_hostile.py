"""One bad rollout never takes its batch down (issue 15): hostile answers, raising graders and
policies, floods from endpoints. Real HTTP (uvicorn on loopback) and the real local grader engine.
"""

import asyncio
import json

import pytest
from fastapi import FastAPI
from fastapi.responses import Response, StreamingResponse
from rollout_fakes import EndpointLog, fake_tool_app, job_tools

from rftkit.data.jsonl import UnreadableFileError
from rftkit.protocol import FunctionCall, FunctionCallOutput
from rftkit.rollouts import PolicyTurn, ToolCallRequest, run_rollouts_sync, save_traces
from rftkit.rollouts.traces import load_traces
from rftkit.serving import serve_in_background

FAST = {"retry_backoff": 0.01, "progress": False}
EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "eq",
}
HOSTILE_ANSWERS = {
    "open brackets": "[" * 5000,
    "deep objects": '{"a":' * 1500 + "1" + "}" * 1500,
    "closed deep": "[" * 3000 + "]" * 3000,
    "huge": "x" * 2_000_000,
    "empty": "",
    "lone surrogate": "42\ud800",
    "NaN JSON": '{"answer": NaN}',
}


class Answers:
    """Answers each question with the text (or raises the exception) it is given for it."""

    name = "answers"

    def __init__(self, by_question: dict):
        self.by_question = by_question

    async def next_turn(self, conversation, tools, *, trace_id):
        answer = self.by_question[conversation[0]["content"]]
        if isinstance(answer, BaseException):
            raise answer
        return answer if isinstance(answer, PolicyTurn) else PolicyTurn(text=answer)


def line(question: str, reference: str = "42") -> dict:
    return {
        "task_id": question,
        "messages": [{"role": "user", "content": question}],
        "reference_answer": reference,
    }


@pytest.fixture(scope="module")
def endpoint():
    with serve_in_background(fake_tool_app(EndpointLog())) as base_url:
        yield base_url


def run(base_url, answers: dict, grader=EXACT, **options):
    items = [line(q) for q in answers]
    return run_rollouts_sync(
        items, Answers(answers), tools=job_tools(base_url), grader=grader, **FAST, **options
    )


def test_hostile_final_answers_are_graded_and_the_batch_completes(endpoint, tmp_path):
    answers = {"good": "42", **HOSTILE_ANSWERS, "good too": "42"}
    traces = run(endpoint, answers)
    by_item = {t.item_id: t for t in traces}
    assert len(traces) == len(answers)
    assert by_item["good"].reward == 1.0 and by_item["good too"].reward == 1.0
    for name in HOSTILE_ANSWERS:
        trace = by_item[name]
        # Graded (a wrong answer scores 0), never discarded: an output that crashed the grader
        # must not let the policy escape its reward.
        assert trace.status == "completed", (name, trace.error)
        assert trace.reward == 0.0, name
    assert by_item["open brackets"].sample.output_text == "[" * 5000
    assert by_item["lone surrogate"].sample.output_text == "42\ufffd"
    saved = save_traces(traces, tmp_path / "traces.jsonl")  # every trace can be written out
    assert [t.trace_id for t in load_traces(saved)] == [t.trace_id for t in traces]


def test_a_raising_grader_scores_that_rollout_0_with_the_error_flag(endpoint):
    def fragile(sample, item, trace_id):
        if sample.output_text == "boom":
            raise RecursionError("maximum recursion depth exceeded")
        return 1.0

    traces = run(endpoint, {"a": "fine", "b": "boom", "c": "fine"}, grader=fragile)
    assert [t.reward for t in traces] == [1.0, 0.0, 1.0]
    bad = traces[1]
    assert bad.status == "completed"
    assert bad.grader_result["metadata"]["errors"]["other_error"] is True
    assert "RecursionError" in bad.error and "fragile" in bad.error


@pytest.mark.parametrize("returned", [float("nan"), float("inf"), "1.0", None, True])
def test_a_grader_answering_no_finite_number_scores_0_with_the_error_flag(endpoint, returned):
    traces = run(endpoint, {"a": "x", "b": "y"}, grader=lambda s, i, t: returned)
    assert [t.reward for t in traces] == [0.0, 0.0]
    assert all(t.grader_result["metadata"]["errors"]["other_error"] for t in traces)
    assert "not a finite number" in traces[0].error


def test_a_raising_policy_or_a_malformed_turn_discards_only_its_rollout(endpoint):
    malformed = PolicyTurn(tool_calls=[ToolCallRequest("call_1", "echo", None)])  # type: ignore[arg-type]
    answers = {
        "ok": "42",
        "raises": RecursionError("deep"),
        "malformed": malformed,
        "not a turn": "42",
    }

    class Mixed(Answers):
        async def next_turn(self, conversation, tools, *, trace_id):
            if conversation[0]["content"] == "not a turn":
                return {"text": "42"}
            return await super().next_turn(conversation, tools, trace_id=trace_id)

    items = [line(q) for q in answers]
    traces = run_rollouts_sync(
        items, Mixed(answers), tools=job_tools(endpoint), grader=EXACT, **FAST
    )
    statuses = {t.item_id: (t.status, t.reward) for t in traces}
    assert statuses == {
        "ok": ("completed", 1.0),
        "raises": ("discarded", None),
        "malformed": ("discarded", None),
        "not a turn": ("discarded", None),
    }
    assert "RecursionError: deep" in traces[1].error


def test_hostile_tool_arguments_go_back_to_the_model(endpoint):
    deep = '{"a":' * 1000 + "1" + "}" * 1000
    answers = {"deep args": PolicyTurn(tool_calls=[ToolCallRequest("call_1", "echo", deep)])}

    class ThenAnswer(Answers):
        async def next_turn(self, conversation, tools, *, trace_id):
            if len(conversation) > 1:
                return PolicyTurn(text=conversation[-1]["output"])
            return await super().next_turn(conversation, tools, trace_id=trace_id)

    [trace] = run_rollouts_sync(
        [line("deep args")], ThenAnswer(answers), tools=job_tools(endpoint), grader=EXACT, **FAST
    )
    assert trace.status == "completed" and trace.reward == 0.0
    assert json.loads(trace.sample.output_text)["error"]["code"] == "invalid_arguments"
    assert "deeper than" in trace.sample.output_text


def flood_app() -> FastAPI:
    """A tool endpoint whose replies are too big: declared, or streamed without a length."""
    app = FastAPI()

    @app.post("/declared")
    async def declared(call: dict) -> Response:
        reply = FunctionCallOutput.answering(FunctionCall.model_validate(call), "x" * 3_000_000)
        return Response(reply.model_dump_json(), media_type="application/json")

    @app.post("/streamed")
    async def streamed() -> StreamingResponse:
        async def endless():
            while True:  # until the client hangs up (the sleep lets the server notice)
                yield b" " * 65536
                await asyncio.sleep(0)

        return StreamingResponse(endless(), media_type="application/json")

    @app.post("/grade")
    async def grade() -> StreamingResponse:
        return await streamed()

    return app


@pytest.mark.parametrize("route", ["declared", "streamed"])
def test_a_flooding_tool_endpoint_gets_a_413_shown_to_the_model(route):
    policy = Answers({"q": PolicyTurn(tool_calls=[ToolCallRequest("call_1", "flood", "{}")])})

    class ThenAnswer(Answers):
        async def next_turn(self, conversation, tools, *, trace_id):
            if len(conversation) > 1:
                return PolicyTurn(text=conversation[-1]["output"])
            return await policy.next_turn(conversation, tools, trace_id=trace_id)

    with serve_in_background(flood_app()) as base_url:
        tools = [{"name": "flood", "server_url": f"{base_url}/{route}"}]
        [trace] = run_rollouts_sync([line("q")], ThenAnswer({}), tools=tools, grader=EXACT, **FAST)
    assert trace.status == "completed"
    [call] = trace.function_spans
    assert call.span_data.status_code == 413
    assert json.loads(trace.sample.output_text)["error"]["code"] == "payload_too_large"


def test_a_flooding_endpoint_grader_is_retried_then_discards():
    with serve_in_background(flood_app()) as base_url:
        grader = {"type": "endpoint", "name": "flood", "url": f"{base_url}/grade"}
        [trace] = run_rollouts_sync(
            [line("q")], Answers({"q": "42"}), tools=[], grader=grader, **FAST
        )
    assert trace.status == "discarded"
    assert "exceeds the 1000000-byte limit after 3 retries" in trace.error


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("[" * 5000, "line 2, field line: Invalid JSON: recursion limit exceeded"),
        (b'{"trace_id": "\xff"}', "line 2, field line: Invalid JSON"),
        ('{"trace_id": NaN}', "line 2, field"),
    ],
)
def test_a_hostile_traces_file_is_a_value_error_naming_the_line(endpoint, tmp_path, line, words):
    [trace] = run(endpoint, {"q": "42"})
    path = save_traces([trace], tmp_path / "traces.jsonl")
    path.write_bytes(path.read_bytes() + (line if isinstance(line, bytes) else line.encode()))
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        load_traces(path)


@pytest.mark.parametrize("path", ["/dev/zero", "."])
def test_a_traces_path_that_is_no_file_is_refused_before_reading(path):
    with pytest.raises(UnreadableFileError, match="not a regular file"):
        load_traces(path)
