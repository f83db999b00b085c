"""Contract tests of the hosted backend against a fake OpenAI/Azure API on loopback, driven
through the real ``openai`` client: published request shapes, clear errors, idempotent launch,
and no secret anywhere it could be printed."""

import json
import logging

import jsonschema
import openai
import pytest
from fake_openai_api import FakeState, fake_openai_app
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.jobs import HostedJobError, launch
from rftkit.jobs.hosted import HostedAPI, normalise_job
from rftkit.jobs.hosted.errors import mask
from rftkit.serving import serve_in_background
from rftkit.task import RFTTask, TaskTool

TOOL_SECRET = "canary-tool-7f3a91"
GRADER_SECRET = "canary-grader-52bd0e"
API_SECRET = "canary-apikey-c4e812"
ENV = {"TOOL_TOKEN": TOOL_SECRET, "GRADER_KEY": GRADER_SECRET}
SECRETS = (TOOL_SECRET, GRADER_SECRET, API_SECRET)
GRADER = {
    "type": "multi",
    "name": "score",
    "calculate_output": "0.8 * exact + 0.2 * judge",
    "graders": {
        "exact": {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                  "reference": "{{item.answer}}", "operation": "eq"},
        "judge": {"type": "endpoint", "name": "judge", "url": "https://grader.example/score",
                  "headers": {"X-Functions-Key": "${GRADER_KEY}"}, "rate_limit": 50},
    },
}  # fmt: skip

HYPER = {"type": ["string", "number"]}
PUBLISHED_CREATE = {  # docs/hosted-api.md §2.1-§2.3, §4.1, §4.4
    "type": "object",
    "required": ["model", "training_file", "method"],
    "additionalProperties": False,
    "properties": {
        "model": {"type": "string"},
        "training_file": {"type": "string"},
        "validation_file": {"type": "string"},
        "suffix": {"type": "string", "maxLength": 64},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2147483647},
        "metadata": {
            "type": "object",
            "maxProperties": 16,
            "propertyNames": {"maxLength": 64},
            "additionalProperties": {"type": "string", "maxLength": 512},
        },
        "trainingType": {"type": "string"},
        "method": {
            "type": "object",
            "required": ["type", "reinforcement"],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "reinforcement"},
                "reinforcement": {
                    "type": "object",
                    "required": ["grader"],
                    "additionalProperties": False,
                    "properties": {
                        "grader": {"$ref": "#/$defs/grader"},
                        "response_format": {"type": ["object", "null"]},
                        "max_episode_steps": {"type": "integer", "minimum": 1},
                        "tools": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "server_url"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string"},
                                    "server_url": {"type": "string", "pattern": "^https?://"},
                                    "headers": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            },
                        },
                        "hyperparameters": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "n_epochs": {"anyOf": [{"const": "auto"},
                                    {"type": "integer", "minimum": 1, "maximum": 50}]},
                                "batch_size": {"anyOf": [{"const": "auto"},
                                    {"type": "integer", "minimum": 1, "maximum": 256}]},
                                "compute_multiplier": {"anyOf": [{"const": "auto"},
                                    {"type": "number", "exclusiveMinimum": 0.00001,
                                     "maximum": 10}]},
                                "eval_interval": {"anyOf": [{"const": "auto"},
                                    {"type": "integer", "minimum": 1}]},
                                "eval_samples": {"anyOf": [{"const": "auto"},
                                    {"type": "integer", "minimum": 1}]},
                                "learning_rate_multiplier": {"anyOf": [{"const": "auto"},
                                    {"type": "number", "exclusiveMinimum": 0}]},
                                "reasoning_effort": {
                                    "enum": ["default", "low", "medium", "high"]},
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "grader": {
            "type": "object",
            "required": ["type", "name"],
            "properties": {
                "type": {"enum": ["string_check", "text_similarity", "python", "score_model",
                                  "multi", "endpoint"]},
                "url": {"type": "string", "pattern": "^https?://"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "graders": {"type": "object", "additionalProperties": {"$ref": "#/$defs/grader"}},
            },
            "if": {"properties": {"type": {"const": "endpoint"}}},
            "then": {"required": ["url"]},
        }
    },
}  # fmt: skip


def _task(tmp_path, **changes) -> RFTTask:
    lines = [
        {"messages": [{"role": "user", "content": f"What is {n} + 1?"}], "answer": str(n + 1)}
        for n in range(12)
    ]
    for name, part in (("train", lines[:10]), ("valid", lines[10:])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in part))
    fields = {
        "name": "arith",
        "training_file": "train.jsonl",
        "validation_file": "valid.jsonl",
        "grader": GRADER,
        "tools": [TaskTool(name="calculator", server_url="https://tools.example/call",
                           headers={"Authorization": "Bearer ${TOOL_TOKEN}"})],
        "hyperparameters": {"n_epochs": 2, "batch_size": 4, "compute_multiplier": "auto",
                            "reasoning_effort": "medium"},
        "suffix": "arith",
        "seed": 7,
    } | changes  # fmt: skip
    return RFTTask.in_folder(tmp_path, **fields)


@pytest.fixture
def fake():
    state = FakeState()
    with serve_in_background(fake_openai_app(state)) as url:
        yield state, url


@pytest.fixture
def fake_azure():
    state = FakeState(azure=True)
    with serve_in_background(fake_openai_app(state)) as url:
        yield state, url


def _openai(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=API_SECRET, max_retries=0)


def _create_bodies(state):
    return [r["body"] for r in state.requests if r["method"] == "POST" and
            r["path"].endswith("/fine_tuning/jobs")]  # fmt: skip


def _no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_openai_launch_sends_the_published_shape_and_the_job_runs_to_the_end(fake, tmp_path):
    state, url = fake
    task = _task(tmp_path)
    job = launch("openai", task, client=_openai(url), env=ENV, file_wait={"poll": 0})
    (body,) = _create_bodies(state)
    jsonschema.validate(body, PUBLISHED_CREATE)
    reinforcement = body["method"]["reinforcement"]
    assert reinforcement["tools"] == [
        {"name": "calculator", "server_url": "https://tools.example/call",
         "headers": {"Authorization": f"Bearer {TOOL_SECRET}"}}]  # fmt: skip
    assert reinforcement["grader"]["graders"]["judge"]["headers"] == {
        "X-Functions-Key": GRADER_SECRET
    }
    assert reinforcement["hyperparameters"]["compute_multiplier"] == "auto"
    assert body["metadata"]["rftkit_task_hash"] == task.content_hash()
    assert (body["suffix"], body["seed"], reinforcement["max_episode_steps"]) == ("arith", 7, 10)
    uploads = [r["body"] for r in state.requests if r["path"].endswith("/files") and r["body"]]
    assert [u["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]
    assert job.wait(poll=0) == "succeeded"
    messages = [e["message"] for e in job.events()]
    assert messages[0] == "Created fine-tuning job" and "Step 2/2" in messages[-2]
    (checkpoint,) = job.checkpoints()
    assert checkpoint["step_number"] == 2
    assert job.as_job()["method"]["reinforcement"]["tools"][0]["headers"] == {
        "Authorization": "**********"
    }
    with pytest.raises(LookupError, match="shut down on 2026-11-30"):
        job.eval_runs()


def test_a_second_launch_returns_the_first_job_and_reuses_the_files(fake, tmp_path):
    state, url = fake
    task = _task(tmp_path)
    first = launch("openai", task, client=_openai(url), env=ENV, file_wait={"poll": 0})
    again = launch("openai", task, client=_openai(url), env=ENV, file_wait={"poll": 0})
    assert again.id == first.id and again.reused and not first.reused
    assert len(_create_bodies(state)) == 1
    listing = [r for r in state.requests if r["method"] == "GET" and
               r["path"].endswith("/fine_tuning/jobs")]  # fmt: skip
    assert listing[-1]["query"]["metadata[rftkit_task_hash]"] == task.content_hash()
    forced = launch("openai", task, client=_openai(url), env=ENV, force=True,
                    file_wait={"poll": 0})  # fmt: skip
    assert forced.id != first.id
    uploads = [r for r in state.requests if r["method"] == "POST" and r["path"].endswith("/files")]
    assert len(uploads) == 2, "the forced launch reuses the files uploaded for the first"
    changed = _task(tmp_path, seed=8)
    assert launch("openai", changed, client=_openai(url), env=ENV).id not in (first.id, forced.id)


def test_a_cancelled_job_is_not_returned_by_the_next_launch(fake, tmp_path):
    _, url = fake
    task = _task(tmp_path)
    first = launch("openai", task, client=_openai(url), env=ENV).cancel()
    assert first.as_job()["status"] == "cancelled"
    assert launch("openai", task, client=_openai(url), env=ENV).id != first.id


def test_pause_and_resume_read_the_new_status_as_a_plain_string(fake, tmp_path):
    _, url = fake
    job = launch("openai", _task(tmp_path), client=_openai(url), env=ENV)
    assert job.pause().as_job()["status"] == "paused"
    assert job.resume().as_job()["status"] == "running"


@pytest.mark.parametrize("form", ["azure_openai", "v1"])
def test_azure_clients_reach_the_same_code_path_and_its_differences_are_read(
    fake_azure, tmp_path, form
):
    state, url = fake_azure
    if form == "azure_openai":
        client = openai.AzureOpenAI(azure_endpoint=url, api_version="2025-04-01-preview",
                                    api_key=API_SECRET, max_retries=0)  # fmt: skip
    else:
        client = openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=API_SECRET, max_retries=0)
    job = launch("azure", _task(tmp_path), client=client, env=ENV, training_type="Standard",
                 file_wait={"poll": 0})  # fmt: skip
    (body,) = _create_bodies(state)
    jsonschema.validate(body, PUBLISHED_CREATE)
    assert "compute_multiplier" not in body["method"]["reinforcement"]["hyperparameters"]
    assert body["trainingType"] == "Standard"
    created = job.as_job()
    assert created["status"] == "pending" and created["eval_id"] == created["eval"]
    assert created["method"]["reinforcement"]["hyperparameters"]["compute_multiplier"] == "auto"
    prefix = "/openai/fine_tuning" if form == "azure_openai" else "/openai/v1/fine_tuning"
    assert all(r["path"].startswith(prefix) for r in state.requests if "fine_tuning" in r["path"])
    if form == "azure_openai":
        assert state.requests[-1]["query"]["api-version"] == "2025-04-01-preview"
    assert job.wait(poll=0) == "succeeded"
    state.evals_gone = False
    assert job.eval_runs()[0]["name"] == "Step 2"


REFUSED = {
    "error": {
        "message": "This organization is not allowed to create fine-tuning jobs.",
        "type": "invalid_request_error",
        "code": "not_allowed",
        "param": None,
    }
}


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (403, REFUSED, "refused", ["2027-01-06", "Azure AI Foundry", "open-weights", "local"]),
        (400, {"error": {"message": f"Invalid grader: bad header {GRADER_SECRET} {TOOL_SECRET}",
                         "param": "method.reinforcement.grader"}},
         "invalid", ["grader is invalid", "**********"]),
        (429, {"error": {"message": "Rate limit reached"}}, "rate_limited", ["429", "Wait"]),
        (500, {"error": {"message": "The server had an error"}}, "server", ["500", "again"]),
        (503, "upstream connect error", "server", ["503"]),
    ],
)  # fmt: skip
def test_platform_errors_become_clear_messages_without_secrets(
    fake, tmp_path, capsys, caplog, status, body, kind, words
):
    state, url = fake
    state.fail["create_job"] = (status, body)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HostedJobError) as error:
        launch("openai", _task(tmp_path), client=_openai(url), env=ENV)
    assert error.value.kind == kind and error.value.status == status
    message = str(error.value)
    for word in words:
        assert word in message
    assert error.value.__cause__ is None and error.value.__suppress_context__
    out = capsys.readouterr()
    _no_secret(message, repr(error.value), out.out, out.err, caplog.text)


def test_azure_refusal_names_the_other_places_to_train(fake_azure, tmp_path):
    state, url = fake_azure
    state.fail["create_job"] = (403, REFUSED)
    client = openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=API_SECRET, max_retries=0)
    with pytest.raises(HostedJobError, match="Azure AI Foundry refused") as error:
        launch("azure", _task(tmp_path), client=client, env=ENV)
    assert "open-weights" in str(error.value) and "local" in str(error.value)


def test_an_unreachable_platform_is_said_plainly(tmp_path):
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=API_SECRET, max_retries=0)
    with pytest.raises(HostedJobError, match="cannot reach OpenAI") as error:
        launch("openai", _task(tmp_path), client=client, env=ENV)
    assert error.value.kind == "unreachable"


def test_nothing_printed_logged_or_shown_carries_a_secret(fake, tmp_path, capsys, caplog):
    state, url = fake
    caplog.set_level(logging.DEBUG)
    task = _task(tmp_path)
    job = launch("openai", task, client=_openai(url), env=ENV, file_wait={"poll": 0})
    job.wait(poll=0)
    print(job, job.as_job(), job.events(), job.checkpoints(), job.api, task)
    out = capsys.readouterr()
    _no_secret(repr(job), repr(job.api), repr(task), json.dumps(job.as_job()), out.out, out.err,
               caplog.text)  # fmt: skip
    assert TOOL_SECRET in json.dumps(_create_bodies(state)), "the platform does receive them"


def test_grader_validation_goes_to_the_platform_unchanged(fake):
    state, url = fake
    api = HostedAPI(_openai(url), "openai", secrets=[GRADER_SECRET])
    resolved = json.loads(json.dumps(GRADER).replace("${GRADER_KEY}", GRADER_SECRET))
    echoed = api.validate_grader(resolved)["grader"]
    assert state.requests[-1]["body"] == {"grader": resolved}
    assert echoed["graders"]["judge"]["headers"] == {"X-Functions-Key": "**********"}
    with pytest.raises(HostedJobError, match="grader is invalid") as error:
        api.validate_grader({"type": "label_model_typo", "name": "x"})
    assert error.value.status == 400


def test_azure_auto_hyperparameters_and_eval_key_are_normalised():
    raw = {"id": "ftjob-1", "status": "pending", "eval": "eval_9",
           "method": {"type": "reinforcement", "reinforcement": {
               "hyperparameters": {"n_epochs": -1, "batch_size": 4}}}}  # fmt: skip
    job = normalise_job(raw)
    assert job["eval_id"] == "eval_9"
    assert job["method"]["reinforcement"]["hyperparameters"] == {
        "n_epochs": "auto",
        "batch_size": 4,
    }
    assert raw["method"]["reinforcement"]["hyperparameters"]["n_epochs"] == -1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "status", "eval", "method", "hyperparameters"]),
                       JSON, max_size=5))  # fmt: skip
def test_any_json_from_the_platform_reads_as_a_job_or_a_clear_error(raw):
    try:
        job = normalise_job(raw)
    except HostedJobError as exc:
        assert "not a job" in str(exc)
    else:
        assert job["id"] == raw["id"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.lists(st.text(min_size=4, max_size=12), max_size=3))
def test_masking_leaves_no_secret_behind(text, secrets):
    shown = mask(text + "".join(secrets), secrets)
    assert all(secret not in shown for secret in secrets if "*" not in secret)


def test_a_file_the_platform_rejects_stops_the_launch_and_is_not_reused(fake, tmp_path):
    state, url = fake
    state.file_error = "line 3: messages must end with a user message"
    task = _task(tmp_path)
    with pytest.raises(HostedJobError, match="was not accepted: line 3: messages") as error:
        launch("openai", task, client=_openai(url), env=ENV, file_wait={"poll": 0})
    assert error.value.kind == "invalid" and not _create_bodies(state)
    state.file_error = None
    launch("openai", task, client=_openai(url), env=ENV, file_wait={"poll": 0})
    uploads = [r for r in state.requests if r["method"] == "POST" and r["path"].endswith("/files")]
    assert len(uploads) == 3, "the rejected training file is uploaded again, not reused"


def test_without_a_client_the_environment_must_name_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="needs OPENAI_API_KEY"):
        launch("openai", _task(tmp_path), env=ENV)
