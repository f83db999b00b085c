"""The local fine-tuning API's refusals, through the real ``openai`` client: each has the API's
error shape and status, names what is wrong, and carries no secret; the base model's answers
parse as the SDK's types; the CLI will not bind beyond loopback without its flag."""

import io
import json

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from rftkit.api import serve_api
from rftkit.api.cli import is_loopback
from rftkit.cli import main
from rftkit.data import build_dataset
from rftkit.local.checkpoint import BASE_MODEL
from rftkit.local.policy import MAX_MARKED_TURN_TOKENS

SECRET = "tool-header-value-that-must-not-leak"
EXACT = {"type": "string_check", "name": "exact", "operation": "eq",
         "input": "{{sample.output_text}}", "reference": "{{item.reference_answer}}"}  # fmt: skip
QUESTION = "What was Marlia Digital's revenue in 2025-Q2, in USD millions?"


def jsonl(lines) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def dataset(prefix: str) -> bytes:
    rows = [{"question": f"{prefix}: status of order {n}?", "answer": "shipped"} for n in range(10)]
    return jsonl(build_dataset(rows))


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with serve_api(tmp_path_factory.mktemp("api")) as served:
        yield served


@pytest.fixture(scope="module")
def client(api):
    return openai.OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)


@pytest.fixture(scope="module")
def files(client):
    upload = client.files.create
    train = upload(file=("train.jsonl", dataset("train")), purpose="fine-tune")
    valid = upload(file=("valid.jsonl", dataset("valid")), purpose="fine-tune")
    return train.id, valid.id


def error_of(exc: openai.APIStatusError) -> dict:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def method(grader=EXACT, **reinforcement):
    return {"type": "reinforcement", "reinforcement": {"grader": grader, **reinforcement}}


def test_graders_validate_and_run_through_the_kit(client):
    assert client.fine_tuning.alpha.graders.validate(grader=EXACT).grader.name == "exact"
    result = client.fine_tuning.alpha.graders.run(
        grader=EXACT, model_sample="shipped", item={"reference_answer": "shipped"}
    )
    assert result.reward == 1.0 and not result.metadata.errors.other_error


def test_an_invalid_grader_is_a_400_naming_the_field(client, files):
    bad = {**EXACT, "operation": "neq"}
    with pytest.raises(openai.BadRequestError) as raised:
        client.fine_tuning.alpha.graders.validate(grader=bad)
    error = error_of(raised.value)
    assert (error["param"], error["code"]) == ("grader.operation", "invalid_grader")
    assert "'eq', 'ne', 'like' or 'ilike'" in error["message"]
    tools = [{"name": "search", "server_url": "http://127.0.0.1:9/call",
              "headers": {"Authorization": f"Bearer {SECRET}"}}]  # fmt: skip
    with pytest.raises(openai.BadRequestError) as raised:
        client.fine_tuning.jobs.create(
            model=BASE_MODEL, training_file=files[0], validation_file=files[1],
            extra_body={"method": method(bad, tools=tools)},
        )  # fmt: skip
    error = error_of(raised.value)
    assert error["param"] == "method.reinforcement.grader.operation"
    assert SECRET not in raised.value.response.text
    assert client.fine_tuning.jobs.list().data == []  # nothing was created


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"tools": [{"name": "search", "server_url": "http://127.0.0.1:9/call",
                     "headers": {"Authorization": 123}}]}, "method.reinforcement.tools.0"),
        ({"hyperparameters": {"n_epochs": -1}}, "method.reinforcement.hyperparameters"),
        ({"hyperparameters": {"learning_rate": 1}}, "method.reinforcement.hyperparameters"),
        ({"response_format": {"type": "json_schema"}}, "method.reinforcement.response_format"),
    ],
)  # fmt: skip
def test_a_job_the_local_engine_cannot_train_is_a_400(client, files, payload, where):
    tools = [{"name": "search", "server_url": "http://127.0.0.1:9/call",
              "headers": {"Authorization": f"Bearer {SECRET}"}}]  # fmt: skip
    with pytest.raises(openai.BadRequestError) as raised:
        client.fine_tuning.jobs.create(
            model=BASE_MODEL, training_file=files[0], validation_file=files[1],
            extra_body={"method": method(**({"tools": tools} | payload))},
        )  # fmt: skip
    assert error_of(raised.value)["param"].startswith(where)
    assert SECRET not in raised.value.response.text


def test_job_create_refuses_missing_files_paths_and_unknown_arguments(client, files):
    create = client.fine_tuning.jobs.create
    cases = [
        ({"training_file": "file-" + "0" * 24, "validation_file": files[1]}, "training_file"),
        ({"validation_file": None}, "validation_file"),
        ({"model": "/etc/passwd.pt"}, "model"),
        ({"model": "ft:rftkit-tinylm-base:local:nope"}, "model"),
        ({"extra_body": {"method": method(), "shiny": 1}}, "shiny"),
    ]
    for change, param in cases:
        valid = {"model": BASE_MODEL, "training_file": files[0], "validation_file": files[1],
                 "extra_body": {"method": method()}}  # fmt: skip
        arguments = valid | change
        with pytest.raises(openai.BadRequestError) as raised:
            create(**arguments)
        assert error_of(raised.value)["param"] == param, change


def test_a_bad_file_is_refused_with_its_lines_and_nothing_is_stored(client):
    before = client.files.list().data
    broken = dataset("x").replace(b"\n", b"\n{not json\n", 1)
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.create(file=("broken.jsonl", broken), purpose="fine-tune")
    error = error_of(raised.value)
    assert (error["param"], error["code"]) == ("file", "invalid_file_format")
    assert "broken.jsonl" in error["message"] and "line 2" in error["message"]
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.create(file=("data.csv", dataset("y")), purpose="fine-tune")
    assert "Must be .jsonl" in error_of(raised.value)["message"]
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.create(file=("empty.jsonl", b""), purpose="fine-tune")
    assert "holds no line" in error_of(raised.value)["message"]
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.create(file=("ok.jsonl", dataset("z")), purpose="batch")
    assert error_of(raised.value)["param"] == "purpose"
    assert client.files.list().data == before


def test_files_round_trip(client):
    data = dataset("round trip")
    created = client.files.create(file=("trip.jsonl", io.BytesIO(data)), purpose="fine-tune")
    assert (created.bytes, created.filename, created.purpose) == (len(data), "trip.jsonl",
                                                                  "fine-tune")  # fmt: skip
    assert client.files.retrieve(created.id).id == created.id
    assert client.files.content(created.id).read() == data
    assert created.id in [f.id for f in client.files.list(purpose="fine-tune")]
    assert client.files.delete(created.id).deleted
    with pytest.raises(openai.NotFoundError) as raised:
        client.files.retrieve(created.id)
    assert error_of(raised.value)["message"] == f"No such File object: {created.id}"


def test_an_unknown_model_or_a_missing_job_is_a_404(client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model="gpt-nope", input="hi")
    assert error_of(raised.value)["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="ft:gpt-nope:x", messages=[{"role": "user",
                                       "content": "hi"}])  # fmt: skip
    assert error_of(raised.value)["code"] == "model_not_found"
    for call in (
        client.fine_tuning.jobs.retrieve,
        client.fine_tuning.jobs.list_events,
        client.fine_tuning.jobs.checkpoints.list,
        client.fine_tuning.jobs.pause,
        client.fine_tuning.jobs.cancel,
    ):
        with pytest.raises(openai.NotFoundError) as raised:
            call("ftjob-missing")
        assert "ftjob-missing" in error_of(raised.value)["message"]


def test_a_wrong_key_is_a_401_and_an_unknown_route_a_404(api):
    wrong = openai.OpenAI(base_url=api.base_url, api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.models.list()
    assert error_of(raised.value)["code"] == "invalid_api_key"
    assert "not-the-key" not in raised.value.response.text
    answer = httpx.get(
        f"{api.base_url}/nowhere", headers={"Authorization": f"Bearer {api.api_key}"}
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "Invalid URL (GET /v1/nowhere)"


def test_the_base_model_answers_in_the_sdks_shapes(client):
    response = client.responses.with_raw_response.create(
        model=BASE_MODEL, input=[{"role": "user", "content": QUESTION}], temperature=0
    ).http_response.json()
    parsed = Response.model_validate(response)
    assert parsed.model == BASE_MODEL and len(parsed.output) == 1
    assert parsed.output[0].type in ("function_call", "message")
    chat = client.chat.completions.with_raw_response.create(
        model=BASE_MODEL, messages=[{"role": "user", "content": QUESTION}], temperature=0
    ).http_response.json()
    choice = ChatCompletion.model_validate(chat).choices[0]
    assert choice.finish_reason in ("tool_calls", "stop")
    if parsed.output[0].type == "function_call":  # greedy: both routes take the same turn
        assert choice.message.tool_calls[0].function.name == parsed.output[0].name
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=BASE_MODEL, input="hi", stream=True)
    assert error_of(raised.value)["code"] == "unsupported_parameter"


ITEM = st.dictionaries(
    st.sampled_from(["type", "role", "content", "name", "arguments", "call_id", "output"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=30),
              st.sampled_from(["message", "function_call", "function_call_output", "user",
                               "assistant", "developer", "tool"]),
              st.lists(st.dictionaries(st.just("text"), st.text(max_size=10)), max_size=2)),
    max_size=5,
)  # fmt: skip


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(ITEM, min_size=1, max_size=4))
def test_any_input_gets_an_answer_or_a_400_never_a_crash(api, items):
    answer = httpx.post(
        f"{api.base_url}/responses",
        headers={"Authorization": f"Bearer {api.api_key}"},
        json={"model": BASE_MODEL, "input": items},
        timeout=60,
    )
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_upload_is_stored_or_refused_never_a_crash(api, data):
    answer = httpx.post(
        f"{api.base_url}/files",
        headers={"Authorization": f"Bearer {api.api_key}"},
        files={"file": ("fuzz.jsonl", data)},
        data={"purpose": "fine-tune"},
    )
    assert answer.status_code == 400, answer.text  # never 10 valid lines by chance
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_the_cli_refuses_to_bind_beyond_loopback_without_its_flag(monkeypatch, capsys, tmp_path):
    served = []
    monkeypatch.setattr("rftkit.api.cli.uvicorn.run", lambda app, **kw: served.append(kw))
    monkeypatch.delenv("RFTKIT_API_KEY", raising=False)
    assert main(["api", "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "a")]) == 2
    assert served == [] and "refusing to bind 0.0.0.0" in capsys.readouterr().out
    assert not (tmp_path / "a").exists()
    monkeypatch.setenv("RFTKIT_API_KEY", "key-from-the-environment")
    assert main(["api", "serve", "--host", "0.0.0.0", "--allow-remote", "--data-dir",
                 str(tmp_path / "b")]) == 0  # fmt: skip
    assert served[0]["host"] == "0.0.0.0"
    assert "key-from-the-environment" not in capsys.readouterr().out
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "example.com")] \
        == [True, True, True, False, False]  # fmt: skip


def test_a_conversation_beyond_the_context_ends_like_a_training_rollout(client):
    long = " ".join(["revenue"] * 2000)  # far beyond the model's 1024-token context
    response = client.responses.create(model=BASE_MODEL, input=long)
    assert response.status == "incomplete" and response.output_text == ""
    assert response.incomplete_details.reason == "max_output_tokens"
    # the committed model has turn markers: a turn may hold reasoning and several calls
    assert response.max_output_tokens == MAX_MARKED_TURN_TOKENS
    chat = client.chat.completions.create(
        model=BASE_MODEL, messages=[{"role": "user", "content": long}]
    )
    assert chat.choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    ("field", "value", "code", "expected"),
    [
        ("top_p", 1.5, "decimal_above_max_value", "Expected a value <= 1, but got 1.5 instead."),
        ("top_p", -0.1, "decimal_below_min_value", "Expected a value >= 0, but got -0.1 instead."),
        ("temperature", 2.5, "decimal_above_max_value", "Expected a value <= 2, but got 2.5"),
        ("temperature", -1, "decimal_below_min_value", "Expected a value >= 0, but got -1"),
    ],
)
def test_a_sampling_number_out_of_range_is_refused_as_the_api_does(
    client, field, value, code, expected
):
    for create, conversation in (
        (client.responses.create, {"input": QUESTION}),
        (client.chat.completions.create, {"messages": [{"role": "user", "content": QUESTION}]}),
    ):
        with pytest.raises(openai.BadRequestError) as raised:
            create(model=BASE_MODEL, **conversation, **{field: value})
        error = error_of(raised.value)
        assert (error["param"], error["code"]) == (field, code)
        assert error["message"].startswith(f"Invalid '{field}': decimal")
        assert expected in error["message"]


def test_top_p_is_honoured_and_echoed(client):
    """top_p 0 keeps only the likeliest token: at temperature 1 the turn is the greedy one."""
    turns = {}
    for name, sampling in (("greedy", {"temperature": 0}), ("top", {"top_p": 0})):
        response = client.responses.with_raw_response.create(
            model=BASE_MODEL, input=[{"role": "user", "content": QUESTION}], **sampling
        ).http_response.json()
        parsed = Response.model_validate(response)
        assert (parsed.temperature, parsed.top_p) == (
            sampling.get("temperature", 1.0),
            sampling.get("top_p", 1.0),
        )
        turns[name] = [item.model_dump(exclude={"id", "call_id"}) for item in parsed.output]
    assert turns["top"] == turns["greedy"]
