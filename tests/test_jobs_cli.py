"""``rftkit jobs`` against the fake platform on loopback: exit codes, idempotent launch, watch,
and no secret in anything printed."""

import json
import time

import fake_openai_api
import openai
import pytest
from fake_openai_api import FakeState, fake_openai_app

from rftkit.cli import main
from rftkit.course.dataset import course_tool_specs
from rftkit.serving import serve_in_background
from rftkit.task import RFTTask, TaskTool
from tools_service.app import create_app

API_KEY = "canary-cli-key-0b7d"
TOOL_SECRET = "canary-cli-tool-e21c"
EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip


def _write_task(folder, tool_url, grader=EXACT):
    lines = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"{i} + 1?"}],
              "tools": course_tool_specs(), "answer": str(i + 1)} for i in range(24)]  # fmt: skip
    for name, part in (("train", lines[:12]), ("valid", lines[12:])):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in part))
    task = RFTTask(
        name="arith", training_file=folder / "train.jsonl", validation_file=folder / "valid.jsonl",
        grader=grader, model="o4-mini-2025-04-16",
        tools=[TaskTool(name=spec["function"]["name"], server_url=f"{tool_url}/call",
                        headers={"Authorization": "Bearer ${CLI_TOOL_TOKEN}"})
               for spec in course_tool_specs()],
    )  # fmt: skip
    return str(task.save(folder / "task.json"))


def _corpus(factory):
    folder = factory.mktemp("corpus")
    (folder / "notes.md").write_text("# Notes\n\nThe answer to 1 + 1 is 2.\n")
    return folder


@pytest.fixture
def platform(monkeypatch, tmp_path_factory):
    state = FakeState(azure=True)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("CLI_TOOL_TOKEN", TOOL_SECRET)
    monkeypatch.delenv("AZURE_AI_PROJECT_ENDPOINT", raising=False)
    with (
        serve_in_background(fake_openai_app(state)) as url,
        serve_in_background(create_app(_corpus(tmp_path_factory), token=TOOL_SECRET)) as tools,
    ):
        yield state, ["--backend", "azure", "--base-url", f"{url}/openai/v1/"], tools


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    for secret in (API_KEY, TOOL_SECRET):
        assert secret not in out.out and secret not in out.err
    return code, out.out, out.err


def test_preflight_then_launch_twice_then_watch_and_act(platform, tmp_path, capsys):
    state, where, tools = platform
    task = _write_task(tmp_path, tools)
    code, out, _ = _run(capsys, "jobs", "preflight", "--task", task, *where, "--rollouts", "0")
    assert code == 0 and "READY TO LAUNCH" in out and "grader: platform" in out
    code, out, _ = _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    assert code == 0 and "created" in out
    job_id = out.split("job ")[-1].split()[0]
    code, out, _ = _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    assert code == 0 and f"job {job_id} on azure: already launched" in out
    assert sum(r["path"].endswith("/fine_tuning/jobs") and r["method"] == "POST"
               for r in state.requests) == 1  # fmt: skip
    code, out, _ = _run(capsys, "jobs", "watch", job_id, *where, "--poll", "0")
    assert code == 0 and "2/2" in out and "reward=0.500" in out
    code, out, _ = _run(capsys, "jobs", "events", job_id, *where)
    assert code == 0 and "The job has successfully completed" in out.splitlines()[-1]
    code, out, _ = _run(capsys, "jobs", "status", job_id, *where)
    assert code == 0 and out.startswith(f"{job_id}: succeeded") and '"**********"' in out
    code, out, _ = _run(capsys, "jobs", "cancel", job_id, *where)
    assert code == 0 and "cancelled" in out


def test_preflight_errors_stop_the_launch_unless_forced(platform, tmp_path, capsys):
    state, where, tools = platform
    task = _write_task(tmp_path, tools, grader={**EXACT, "operation": "neq"})
    code, out, _ = _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    assert code == 1 and "not launched" in out and "ERROR    grader: local" in out
    assert not any(r["path"].endswith("/fine_tuning/jobs") for r in state.requests)


def test_a_refusal_is_a_message_and_exit_3(platform, tmp_path, capsys):
    state, where, tools = platform
    state.fail["create_job"] = (403, {"error": {"message": f"not allowed {TOOL_SECRET}"}})
    task = _write_task(tmp_path, tools)
    code, _, err = _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    assert code == 3 and "Azure AI Foundry refused" in err and "Traceback" not in err


def test_bad_input_is_exit_2(platform, tmp_path, capsys, monkeypatch):
    _, where, _ = platform
    assert _run(capsys, "jobs", "preflight", *where)[0] == 2
    code, _, err = _run(capsys, "jobs", "status", "ftjob-1", "--backend", "local")
    assert code == 2 and "local jobs live inside the process" in err
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    code, _, err = _run(capsys, "jobs", "status", "ftjob-1", *where)
    assert code == 2 and "AZURE_OPENAI_API_KEY" in err
    code, _, err = _run(capsys, "jobs", "preflight", "--task", str(tmp_path / "no.json"))
    assert code == 2 and "cannot read the task file" in err


def test_forecast_from_saved_traces_and_next_to_the_job(platform, tmp_path, capsys):
    from rftkit.protocol import Sample, Trace
    from rftkit.rollouts.traces import save_traces

    _, where, tools = platform
    task = _write_task(tmp_path, tools)
    traces = [Trace(trace_id=f"trace_{i}", item_id=f"q{i}", policy="p", status="completed",
                    started_at=0, ended_at=4.0, sample=Sample.from_text("1"), reward=1.0)
              for i in range(4)]  # fmt: skip
    baseline = save_traces(traces, tmp_path / "traces.jsonl")
    assert _run(capsys, "jobs", "forecast", "--task", task, *where)[0] == 2
    code, out, _ = _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    job_id = out.split("job ")[-1].split()[0]
    code, out, _ = _run(capsys, "jobs", "forecast", "--task", task, *where, "--baseline",
                        str(baseline), "--job-id", job_id)  # fmt: skip
    assert code == 0 and "cost (USD)" in out and "forecast next to actual" in out
    assert "rollouts per prompt assumed" in out


def _azure_extra_installed() -> bool:
    try:
        import azure.ai.projects  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(_azure_extra_installed(), reason="the azure extra is installed here")
def test_a_foundry_project_without_the_azure_extra_says_what_to_install(capsys, monkeypatch):
    monkeypatch.setenv("AZURE_AI_PROJECT_ENDPOINT", "https://project.example/api/projects/p")
    code, _, err = _run(capsys, "jobs", "status", "ftjob-1", "--backend", "azure")
    assert code == 2 and "pip install 'rftkit[azure]'" in err


def test_a_create_that_answers_500_after_making_the_job_leaves_one_job_and_says_so(
    platform, tmp_path, capsys
):
    state, where, tools = platform
    state.fail_after_create = (500, {"error": {"message": "The server had an error"}})
    task = _write_task(tmp_path, tools)
    code, out, err = _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    creates = [r for r in state.requests if r["method"] == "POST" and
               r["path"].endswith("/fine_tuning/jobs")]  # fmt: skip
    assert code == 0 and len(creates) == 1 and len(state.jobs) == 1
    (job_id,) = state.jobs
    assert f"job {job_id} on azure: created" in out
    assert "the create answered with an error (create the job: Azure AI Foundry had a server " \
        "error (500: The server had an error)" in out  # fmt: skip
    assert f"jobs from this task on azure now: 1: {job_id} (pending)" in out


def test_a_hung_platform_is_reported_as_a_timeout_within_the_timeout(platform, tmp_path, capsys):
    state, where, _ = platform
    state.hang, state.hang_s = {"retrieve_job"}, 6.0
    started = time.monotonic()
    code, _, err = _run(capsys, "jobs", "status", "ftjob-1", *where, "--timeout", "2")
    elapsed = time.monotonic() - started
    assert code == 3 and elapsed < 3.0, elapsed
    assert "read job ftjob-1: timed out: Azure AI Foundry gave no answer within 2 s" in err
    assert "still waiting for Azure AI Foundry to read job ftjob-1" in err
    assert "cannot reach" not in err


def test_the_base_url_may_be_the_resource_url_and_the_cli_says_which_it_used(
    platform, tmp_path, capsys
):
    state, where, tools = platform
    resource = where[-1].removesuffix("/openai/v1/")
    task = _write_task(tmp_path, tools)
    code, out, err = _run(capsys, "jobs", "launch", "--task", task, "--backend", "azure",
                          "--base-url", resource, "--rollouts", "0")  # fmt: skip
    assert code == 0 and "created" in out
    assert f"azure: API at {resource}/openai/v1/ (the resource URL given, with /openai/v1/ " \
        "added)" in err  # fmt: skip
    code, _, err = _run(capsys, "jobs", "events", next(iter(state.jobs)), *where)
    assert code == 0 and f"azure: API at {where[-1]} (the /openai/v1/ URL given)" in err


def test_timeout_must_be_positive_and_its_default_is_the_one_used(capsys):
    from rftkit.jobs.hosted.api import DEFAULT_TIMEOUT

    with pytest.raises(SystemExit):
        main(["jobs", "status", "ftjob-1", "--timeout", "0"])
    assert "must be a positive number of seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["jobs", "status", "--help"])
    assert f"(default {DEFAULT_TIMEOUT:g})" in " ".join(capsys.readouterr().out.split())


def test_watch_on_a_failed_job_prints_its_error_and_status_masks_every_header(
    platform, tmp_path, capsys, monkeypatch
):
    state, where, tools = platform
    task = _write_task(tmp_path, tools)
    code, out, _ = _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    (job_id,) = state.jobs
    said = "Training file has 3 lines with a final assistant message"
    state.fail_job = {"code": "invalid_training_file", "param": "training_file", "message": said}
    code, out, _ = _run(capsys, "jobs", "watch", job_id, *where, "--poll", "0")
    assert code == 1
    assert (f"job {job_id} failed: Training file has 3 lines with a final assistant message "
            "(code: invalid_training_file, param: training_file)") in out  # fmt: skip
    # a platform that echoes header values as they were sent: status must not print them
    job = state.jobs[job_id]
    job["method"]["reinforcement"]["tools"][0]["headers"] = {"Authorization": "Bearer plain-9"}
    monkeypatch.setattr(fake_openai_api, "_mask", lambda value: value)
    code, out, _ = _run(capsys, "jobs", "status", job_id, *where)
    assert code == 0 and "plain-9" not in out and '"Authorization": "**********"' in out
    assert "error: Training file has 3 lines" in out


MANAGEMENT_TOKEN = "canary-arm-token-51e0"


def test_azure_from_task_to_an_answering_deployment(platform, tmp_path, capsys, monkeypatch):
    state, where, tools = platform
    base = where[-1]
    task = _write_task(tmp_path, tools)
    _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    (job_id,) = state.jobs
    assert _run(capsys, "jobs", "watch", job_id, *where, "--poll", "0")[0] == 0
    model = state.jobs[job_id]["fine_tuned_model"]
    target = ["--subscription", "sub-1", "--resource-group", "rg-1", "--resource", "res1",
              "--deployment-name", "arith-rft"]  # fmt: skip
    code, out, _ = _run(capsys, "jobs", "deploy", job_id, *where, *target)
    assert code == 0 and "not deployed: pass --apply" in out and not state.deployments
    assert ("PUT https://management.azure.com/subscriptions/sub-1/resourceGroups/rg-1/providers/"
            "Microsoft.CognitiveServices/accounts/res1/deployments/arith-rft?api-version="
            "2024-10-01") in out  # fmt: skip
    assert "Authorization: Bearer **********" in out and f'"name": "{model}"' in out
    assert (f"az cognitiveservices account deployment create --subscription sub-1 "
            f"--resource-group rg-1 --name res1 --deployment-name arith-rft --model-name {model}"
            ) in out  # fmt: skip
    assert "$1.70 per hour while deployed" in out and "model='arith-rft'" in out
    code, _, err = _run(capsys, "jobs", "deploy", job_id, *where, *target, "--apply")
    assert code == 2 and "AZURE_MANAGEMENT_TOKEN" in err
    monkeypatch.setenv("AZURE_MANAGEMENT_TOKEN", MANAGEMENT_TOKEN)
    management = base.removesuffix("/openai/v1/")
    code, out, err = _run(capsys, "jobs", "deploy", job_id, *where, *target, "--apply",
                          "--management-url", management)  # fmt: skip
    assert code == 0 and "deployment arith-rft: Succeeded" in out
    assert MANAGEMENT_TOKEN not in out + err
    client = openai.OpenAI(base_url=base, api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError, match="deployment for this resource does not"):
        client.responses.create(model=model, input="2 + 2?")
    assert client.responses.create(model="arith-rft", input="2 + 2?").output_text == "4"


def test_deploy_is_for_azure_and_needs_a_model(platform, tmp_path, capsys):
    state, where, tools = platform
    task = _write_task(tmp_path, tools)
    _run(capsys, "jobs", "launch", "--task", task, *where, "--rollouts", "0")
    (job_id,) = state.jobs
    target = ["--subscription", "s", "--resource-group", "g", "--deployment-name", "d1"]
    code, _, err = _run(capsys, "jobs", "deploy", job_id, *where, *target, "--resource", "r")
    assert code == 2 and "has no fine-tuned model to deploy (status" in err
    code, _, err = _run(capsys, "jobs", "deploy", job_id, *where, *target)
    assert code == 2 and "--resource is needed" in err
