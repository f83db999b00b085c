"""Contract tests of the hosted backend against a fake OpenAI/Azure API on loopback, driven
through the real ``openai`` client: published request shapes, clear errors, idempotent launch,
and no secret anywhere it could be printed."""

import json
import logging
import time

import httpx
import jsonschema
import openai
import pytest
from fake_openai_api import FakeState, fake_openai_app
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.jobs import HostedJobError, launch
from rftkit.jobs.hosted import HostedAPI, normalise_job
from rftkit.jobs.hosted.deploy import deploy, deployment_for
from rftkit.secrets import mask
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
    job = launch("openai", task,
        skip_preflight=True, client=_openai(url), env=ENV, file_wait={"poll": 0})
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
    first = launch("openai", task,
        skip_preflight=True, client=_openai(url), env=ENV, file_wait={"poll": 0})
    again = launch("openai", task,
        skip_preflight=True, client=_openai(url), env=ENV, file_wait={"poll": 0})
    assert again.id == first.id and again.reused and not first.reused
    assert len(_create_bodies(state)) == 1
    listing = [r for r in state.requests if r["method"] == "GET" and
               r["path"].endswith("/fine_tuning/jobs")]  # fmt: skip
    assert listing[-1]["query"]["metadata[rftkit_task_hash]"] == task.content_hash()
    forced = launch("openai", task, skip_preflight=True, client=_openai(url), env=ENV, force=True,
                    file_wait={"poll": 0})  # fmt: skip
    assert forced.id != first.id
    uploads = [r for r in state.requests if r["method"] == "POST" and r["path"].endswith("/files")]
    assert len(uploads) == 2, "the forced launch reuses the files uploaded for the first"
    changed = _task(tmp_path, seed=8)
    assert launch("openai", changed,
        skip_preflight=True, client=_openai(url), env=ENV).id not in (first.id, forced.id)


def test_a_cancelled_job_is_not_returned_by_the_next_launch(fake, tmp_path):
    _, url = fake
    task = _task(tmp_path)
    first = launch("openai", task, skip_preflight=True, client=_openai(url), env=ENV).cancel()
    assert first.as_job()["status"] == "cancelled"
    assert launch("openai", task, skip_preflight=True, client=_openai(url), env=ENV).id != first.id


def test_pause_and_resume_read_the_new_status_as_a_plain_string(fake, tmp_path):
    _, url = fake
    job = launch("openai", _task(tmp_path), skip_preflight=True, client=_openai(url), env=ENV)
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
    job = launch("azure", _task(tmp_path),
        skip_preflight=True, client=client, env=ENV, training_type="Standard",
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
        launch("openai", _task(tmp_path), skip_preflight=True, client=_openai(url), env=ENV)
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
        launch("azure", _task(tmp_path), skip_preflight=True, client=client, env=ENV)
    assert "open-weights" in str(error.value) and "local" in str(error.value)


def test_an_unreachable_platform_is_said_plainly(tmp_path):
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=API_SECRET, max_retries=0)
    with pytest.raises(HostedJobError, match="cannot reach OpenAI") as error:
        launch("openai", _task(tmp_path), skip_preflight=True, client=client, env=ENV)
    assert error.value.kind == "unreachable"


def test_nothing_printed_logged_or_shown_carries_a_secret(fake, tmp_path, capsys, caplog):
    state, url = fake
    caplog.set_level(logging.DEBUG)
    task = _task(tmp_path)
    job = launch("openai", task,
        skip_preflight=True, client=_openai(url), env=ENV, file_wait={"poll": 0})
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
        launch("openai", task,
            skip_preflight=True, client=_openai(url), env=ENV, file_wait={"poll": 0})
    assert error.value.kind == "invalid" and not _create_bodies(state)
    state.file_error = None
    launch("openai", task, skip_preflight=True, client=_openai(url), env=ENV, file_wait={"poll": 0})
    uploads = [r for r in state.requests if r["method"] == "POST" and r["path"].endswith("/files")]
    assert len(uploads) == 3, "the rejected training file is uploaded again, not reused"


def test_without_a_client_the_environment_must_name_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="needs OPENAI_API_KEY"):
        launch("openai", _task(tmp_path), skip_preflight=True, env=ENV)


# -- no duplicate paid jobs: the create is sent once, and a failed one is looked for ------------
EXACT_ONLY = GRADER["graders"]["exact"]


def _sdk_defaults(url):
    """A client with the SDK's own retry default (2): rftkit must not let it retry the create."""
    return openai.OpenAI(base_url=f"{url}/v1", api_key=API_SECRET)


def test_sdk_retries_a_failed_create_without_an_idempotency_key(fake, tmp_path):
    """Why the create is never left to the SDK: its retry of a 500 makes three paid jobs."""
    state, url = fake
    state.fail_after_create = (500, {"error": {"message": "The server had an error"}})
    client = _sdk_defaults(url).with_options(timeout=5)
    method = {"type": "reinforcement", "reinforcement": {"grader": EXACT_ONLY}}
    with pytest.raises(openai.InternalServerError):
        client.fine_tuning.jobs.create(
            model="o4-mini-2025-04-16", training_file="file-1", method=method
        )
    creates = [r for r in state.requests if r["method"] == "POST" and
               r["path"].endswith("/fine_tuning/jobs")]  # fmt: skip
    assert len(creates) == len(state.jobs) == 3
    assert [r["retry_count"] for r in creates] == ["0", "1", "2"]
    assert {r["idempotency_key"] for r in creates} == {None}


@pytest.mark.parametrize("how", ["500 after the create", "connection dropped after the create"])
def test_a_create_that_fails_after_making_the_job_leaves_exactly_one_job(fake, tmp_path, how):
    state, url = fake
    if how.startswith("500"):
        state.fail_after_create = (500, {"error": {"message": "The server had an error"}})
    else:
        state.drop_after_create = True
    task = _task(tmp_path)
    job = launch("openai", task,
        skip_preflight=True, client=_sdk_defaults(url), env=ENV, file_wait={"poll": 0})
    assert len(_create_bodies(state)) == 1 and len(state.jobs) == 1
    assert job.id == next(iter(state.jobs)) and not job.reused
    assert "yet the job was made" in job.launch_note
    assert job.same_task == [{"id": job.id, "status": "validating_files"}]
    listings = [r for r in state.requests if r["method"] == "GET" and
                r["path"].endswith("/fine_tuning/jobs")]  # fmt: skip
    assert len(listings) == 2, "one listing before the create, one after it failed"
    assert listings[-1]["query"]["metadata[rftkit_task_hash]"] == task.content_hash()
    state.fail_after_create, state.drop_after_create = None, False
    again = launch("openai", task,
        skip_preflight=True, client=_sdk_defaults(url), env=ENV, file_wait={"poll": 0})
    assert again.id == job.id and again.reused and len(state.jobs) == 1


def test_a_forced_launch_that_fails_after_the_create_is_not_mistaken_for_the_old_job(
    fake, tmp_path
):
    state, url = fake
    task = _task(tmp_path)
    first = launch("openai", task,
        skip_preflight=True, client=_openai(url), env=ENV, file_wait={"poll": 0})
    state.fail_after_create = (502, {"error": {"message": "Bad gateway"}})
    forced = launch("openai", task, skip_preflight=True, client=_openai(url), env=ENV, force=True,
                    file_wait={"poll": 0})  # fmt: skip
    assert forced.id != first.id and len(state.jobs) == 2 and len(_create_bodies(state)) == 2
    assert {j["id"] for j in forced.same_task} == {first.id, forced.id}


def test_a_create_refused_by_the_server_is_tried_again_only_after_a_listing_shows_nothing(
    fake, tmp_path
):
    state, url = fake
    state.fail["create_job"] = (503, {"error": {"message": "overloaded"}})
    api_calls = []
    with pytest.raises(HostedJobError, match="No job was created after 2 attempt") as error:
        launch("openai", _task(tmp_path), skip_preflight=True, client=_sdk_defaults(url), env=ENV,
               file_wait={"poll": 0}, progress=api_calls.append)  # fmt: skip
    assert error.value.kind == "server" and not state.jobs
    kinds = [("create" if r["method"] == "POST" else "list") for r in state.requests
             if r["path"].endswith("/fine_tuning/jobs")]  # fmt: skip
    assert kinds == ["list", "create", "list", "create", "list"]
    assert any("trying again" in line for line in api_calls)


def test_a_create_that_times_out_is_not_repeated_and_says_what_exists(fake, tmp_path):
    state, url = fake
    state.hang, state.hang_s = {"create_job"}, 4.0
    started = time.monotonic()
    with pytest.raises(HostedJobError) as error:
        launch("openai", _task(tmp_path),
            skip_preflight=True, client=_sdk_defaults(url), env=ENV, timeout=1.0,
               file_wait={"poll": 0})  # fmt: skip
    assert time.monotonic() - started < 3.5
    message = str(error.value)
    assert error.value.kind == "timeout" and message.startswith("create the job: timed out")
    assert "no answer within 1 s" in message and "was not sent again" in message
    assert len(_create_bodies(state)) == 1


def test_when_the_listing_after_a_failed_create_fails_too_the_error_says_it_is_unknown(
    fake, tmp_path, monkeypatch
):
    state, url = fake
    state.fail_after_create = (500, {"error": {"message": "The server had an error"}})
    original = HostedAPI.create_job

    def create_then_break_listing(self, body):
        try:
            return original(self, body)
        finally:
            state.fail["list_jobs"] = (500, {"error": {"message": "listing broke"}})

    monkeypatch.setattr(HostedAPI, "create_job", create_then_break_listing)
    with pytest.raises(HostedJobError, match="Whether the job was created is unknown") as error:
        launch("openai", _task(tmp_path),
            skip_preflight=True, client=_openai(url), env=ENV, timeout=2,
               file_wait={"poll": 0})  # fmt: skip
    assert "lists jobs by the task's hash before it creates one" in str(error.value)
    assert len(_create_bodies(state)) == 1 and len(state.jobs) == 1


# -- errors are classified on status and code, never on free text ------------------------------
@pytest.mark.parametrize(
    ("status", "error", "agent_rft", "kind", "words", "absent"),
    [
        (400, {"message": "Grader type 'endpoint' is not allowed here", "param": "grader.type",
               "code": None}, False, "invalid", ["grader is invalid", "not allowed here"],
         ["winding down", "refused"]),
        (400, {"message": "Agent RFT is not enabled", "param": "method.reinforcement.tools",
               "code": "feature_not_available"}, True, "not_available",
         ["Agent RFT (job-level tools, endpoint graders, max_episode_steps) is not available to "
          "this account", "private preview"], ["winding down"]),
        (403, {"message": "Forbidden", "code": None}, True, "refused",
         ["This job uses Agent RFT", "is not available to this account", "2027-01-06"], []),
        (400, {"message": "bad value", "param": "method.reinforcement.tools[0].server_url",
               "code": "invalid_value"}, True, "invalid",
         ["the Agent RFT part of the request is invalid"], ["refused"]),
    ],
)  # fmt: skip
def test_errors_are_classified_on_status_and_code(
    fake, tmp_path, status, error, agent_rft, kind, words, absent
):
    state, url = fake
    state.fail["validate_grader"] = (status, {"error": error})
    api = HostedAPI(_openai(url), "openai", agent_rft=agent_rft)
    with pytest.raises(HostedJobError) as raised:
        api.validate_grader(EXACT_ONLY)
    message = str(raised.value)
    assert raised.value.kind == kind and raised.value.status == status, message
    assert all(w in message for w in words), message
    assert not any(w in message for w in absent), message


def test_a_refused_deploy_never_shows_the_management_token():
    token = "canary-arm-3f9d21"

    def refuse(request):
        said = f"token {request.headers['authorization']} may not deploy here"
        return httpx.Response(403, json={"error": {"code": "AuthorizationFailed", "message": said}})

    where = {"subscription": "s", "resource_group": "g", "resource": "r"}
    plan = deployment_for({"id": "ftjob-1", "fine_tuned_model": "o4-mini.ft-1"}, name="d1", **where)
    with pytest.raises(HostedJobError, match="answered 403") as error:
        deploy(plan, token, http=httpx.Client(transport=httpx.MockTransport(refuse)))
    assert token not in str(error.value) and "Bearer **********" in str(error.value)
    assert error.value.kind == "auth"
    with pytest.raises(ValueError, match="deployment name"):
        deployment_for({"fine_tuned_model": "m"}, name="bad name", **where)
