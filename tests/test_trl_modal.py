"""The TRL-on-Modal backend offline: the app imports and is configured as its docs claim, the
checks and the forecast, the jobs backend without a Modal token, and the CLI.

Nothing here reaches Modal (there is no emulator) and nothing runs on a GPU."""

from __future__ import annotations

import math

import pytest

from rftkit.course.grader import naive_grader
from rftkit.course.task import CourseTaskSize, serve_course_task
from rftkit.jobs import launch
from rftkit.task import RFTTask, TaskTool
from rftkit.trl import describe_job
from rftkit.trl.__main__ import main as cli
from rftkit.trl.backend import ModalUnavailable, PreflightFailed, TRLModalJob, launch_trl_modal
from rftkit.trl.describe import ASSUMED_STEP_SECONDS, STARTUP_HOURS, forecast
from rftkit.trl.gpus import DEFAULT_MODEL, GPUS, PRICE_DATE
from rftkit.trl.image import image_requirements
from rftkit.trl.jobspec import TRLJobSpec, planned_steps
from rftkit.trl.preflight import memory_check, preflight
from tools_service.app import TOKEN_ENV

TINY = CourseTaskSize(train_worlds=1, train_per_world=10, valid_worlds=1, valid_per_world=10)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    with serve_course_task(tmp_path_factory.mktemp("course"), TINY) as served:
        yield served


@pytest.fixture
def public_task(course):
    """The course task as if its tools were deployed (preflight's reachability check passes)."""
    task = course.task.model_copy(deep=True)
    task.tools = [
        TaskTool(
            name=t.name, server_url="https://ws--rftkit-tools.modal.run/call", headers=t.headers
        )
        for t in task.tools
    ]
    return task


@pytest.fixture
def no_modal_token(monkeypatch, tmp_path):
    monkeypatch.delenv("MODAL_TOKEN_ID", raising=False)
    monkeypatch.delenv("MODAL_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(tmp_path / "absent.toml"))


def test_the_app_imports_offline_configured_as_documented():
    from rftkit.trl import modal_app

    assert modal_app.app.name == "rftkit-trl"
    train = modal_app.train._spec_
    assert train.gpus == "H100"
    assert {p: v.name for p, v in train.volumes.items()} == {
        "/runs": "rftkit-trl-runs",
        "/root/.cache/huggingface": "rftkit-hf-cache",
    }
    assert [s.name for s in train.secrets] == ["rftkit-tool-token", "rftkit-grader-keys"]
    serve = modal_app.serve._spec_
    assert serve.gpus == "H100" and [s.name for s in serve.secrets] == ["rftkit-serve-key"]
    requirements = modal_app._requirements()
    assert requirements == image_requirements()
    assert any(r.startswith("httpx") for r in requirements)
    assert not any(r.startswith(("jupyterlab", "modal")) for r in requirements)
    assert "vllm==0.30.0" in requirements and "trl[vllm,peft]==1.16.0" in requirements


def test_describe_runs_locally_and_shows_the_job_and_forecast(public_task):
    from rftkit.trl.modal_app import describe

    text = describe.local(public_task.model_dump_json(), TRLJobSpec().to_json())
    assert "modal run --detach -m rftkit.trl.modal_app" in text
    assert "GRPOConfig.num_generations" in text and "trl[vllm,peft]==1.16.0" in text
    table = describe_job(public_task)
    assert table.loc["GRPOConfig.max_tool_calling_iterations", "value"] == "11"
    assert table.loc["model", "value"] == DEFAULT_MODEL
    assert PRICE_DATE in table.loc["price", "value"] or "2026-05-07" in table.loc["price", "value"]


def test_forecast_is_steps_times_step_time_plus_startup(public_task):
    lines = len(public_task.items("train"))
    steps = planned_steps(public_task, TRLJobSpec())
    assert steps == math.ceil(2 * lines / 8)  # the course task: 2 epochs, batches of 8 lines
    assumed = forecast(public_task)
    hours = steps * ASSUMED_STEP_SECONDS / 3600 + STARTUP_HOURS
    assert assumed["gpu_hours"] == pytest.approx(hours)
    assert assumed["usd"] == pytest.approx(hours * GPUS["H100"].usd_per_hour)
    assert assumed["seconds_per_step_source"] == "assumed"
    two = forecast(public_task, TRLJobSpec(gpu="H100:2", vllm_mode="server"), 30.0)
    assert two["gpu_hours"] == pytest.approx(2 * (steps * 30 / 3600 + STARTUP_HOURS))
    assert two["ceiling_usd"] == pytest.approx(24 * 2 * GPUS["H100"].usd_per_hour)
    from rftkit.trl.modal_app import TRAIN_SETTINGS  # the ceiling is the function's own timeout

    assert TRAIN_SETTINGS["timeout"] == 24 * 3600 == TRLJobSpec().timeout_seconds
    short = forecast(public_task, TRLJobSpec(timeout_hours=2))
    assert short["ceiling_gpu_hours"] == 2
    assert forecast(public_task, TRLJobSpec(overrides={"max_steps": 3}))["steps"] == 3


def test_preflight_refuses_loopback_tools_and_passes_deployed_ones(course, public_task):
    local = preflight(course.task, env=course.env)
    assert not local.passed
    assert any("cannot reach" in c.message for c in local.checks if c.level == "error")
    deployed = preflight(public_task, env=course.env)
    assert deployed.passed, deployed.text()
    levels = {c.name: c.level for c in deployed.checks}
    assert levels["tool specs"] == levels["model"] == levels["gpu"] == "ok"
    missing = preflight(public_task, env={})
    assert any(c.name == "secrets" and TOKEN_ENV in c.message for c in missing.checks)
    assert course.env[TOKEN_ENV] not in missing.text()


def test_the_unreachable_tools_hint_names_the_projects_own_service(course, tmp_path):
    def hint(task):
        (error,) = [c.message for c in preflight(task, env=course.env).checks
                    if c.level == "error" and "cannot reach" in c.message][:1]  # fmt: skip
        return error

    # The course task (no project around it): both ways, the project's first.
    assert "a project made by `rftkit new`: `modal deploy -m <package>.modal_app`" in hint(
        course.task
    )
    # A team's task in its project (build/task.json): that project's package, nothing else.
    project = tmp_path / "order-assistant"
    (project / "order_assistant").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "order-assistant"\n')
    for name in ("service.py", "modal_app.py"):
        (project / "order_assistant" / name).write_text("")
    saved = course.task.save(project / "build" / "task.json")
    message = hint(RFTTask.load(saved))
    assert "`modal deploy -m order_assistant.modal_app`" in message
    assert "Dockerfile on Azure Container Apps" in message
    assert "tools_service" not in message


def test_preflight_runs_the_hosted_red_team_and_masks_header_values(course, public_task):
    """The task's shared checks: a grader the red team beats is an error here as on hosted.
    Without a baseline the cases make no tool call: the honest path is untried, a warning."""
    honest = next(c for c in preflight(public_task, env=course.env).checks if c.name == "red team")
    assert honest.level == "warning" and "the honest path was never tried" in honest.message
    naive = public_task.model_copy(update={"grader": naive_grader()})
    row = next(c for c in preflight(naive, env=course.env).checks if c.name == "red team")
    assert row.level == "error" and "rewarded" in row.message
    report = preflight(public_task, env=course.env)
    report.add("note", "ok", f"echoed {course.env[TOKEN_ENV]}")
    assert course.env[TOKEN_ENV] not in report.text()


def test_memory_check_refuses_what_cannot_fit_and_names_what_can(public_task):
    default = TRLJobSpec()
    assert default.method == "lora"  # 4B > LORA_ABOVE_BILLION
    level, message = memory_check(public_task, default)
    assert level == "ok" and "lora" in message
    level, message = memory_check(public_task, TRLJobSpec(model="Qwen/Qwen3-4B", finetune="full"))
    assert (
        level == "error" and "Would fit: --gpu H100 --vllm-mode colocate --finetune lora" in message
    )
    eight_full_server = TRLJobSpec(
        model="Qwen/Qwen3-8B", gpu="H100:2", vllm_mode="server", finetune="full"
    )
    level, message = memory_check(public_task, eight_full_server)
    assert level == "error" and "~136 GB per GPU" in message
    assert memory_check(public_task, TRLJobSpec(model="Qwen/Qwen3-0.6B"))[0] == "ok"
    assert memory_check(public_task, TRLJobSpec(model="Qwen/Qwen3-32B"))[0] == "error"
    assert memory_check(public_task, TRLJobSpec(model="someone/unknown"))[0] == "warning"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"vllm_mode": "server"}, "two GPUs"),
        ({"gpu": "Z9"}, "not in the table"),
        ({"gpu": "H100:0"}, "from 1 to 8"),
        ({"gpu": "H100:9"}, "from 1 to 8"),
        ({"gpu": "H100:two"}, "from 1 to 8"),
        ({"vllm_mode": "both"}, "vllm_mode"),
        ({"finetune": "qlora"}, "finetune"),
        ({"timeout_hours": 25}, "24"),
    ],
)
def test_bad_job_spec_values_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        TRLJobSpec(**options)


def test_the_new_gpus_are_in_the_table():
    assert GPUS["H200"].memory_gb == 141 and GPUS["B200"].memory_gb == 180
    assert TRLJobSpec(gpu="B200:8").timeout_seconds == 24 * 3600


def test_without_a_modal_token_launch_and_control_say_what_to_do(
    public_task, course, no_modal_token, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, course.env[TOKEN_ENV])
    with pytest.raises(ModalUnavailable, match="modal setup"):
        launch("trl-modal", public_task)
    with pytest.raises(PreflightFailed, match="cannot reach"):
        launch_trl_modal(course.task)
    with pytest.raises(ModalUnavailable, match="describe_job"):
        TRLModalJob.attach("ftjob-trl-x")
    job = TRLModalJob("ftjob-trl-x", folder=None, call_id="fc-1")  # type: ignore[arg-type]
    with pytest.raises(ModalUnavailable):
        job.cancel()
    with pytest.raises(NotImplementedError, match="cannot pause"):
        job.pause()


def test_cli_describe_preflight_and_course_task(
    public_task, course, tmp_path, capsys, monkeypatch, no_modal_token
):
    written = cli(
        ["course-task", "--tools-url", "https://ws--rftkit-tools.modal.run", "--out", str(tmp_path)]
    )
    assert written == 0
    task_file = tmp_path / "task.json"
    assert "rftkit-tools.modal.run/call" in task_file.read_text()
    monkeypatch.setenv(TOKEN_ENV, course.env[TOKEN_ENV])
    assert cli(["preflight", "--task", str(task_file)]) == 0
    assert cli(["describe", "--task", str(task_file)]) == 0
    out = capsys.readouterr().out
    assert "preflight passed" in out and "GRPOConfig.num_generations" in out
    assert course.env[TOKEN_ENV] not in out
    assert cli(["status", "ftjob-trl-x"]) == 2
    capsys.readouterr()
    assert cli(["preflight", "--task", str(task_file), "--gpu", "H100:x"]) == 2
    assert cli(["describe", "--task", str(task_file), "--gpu", "Q7"]) == 2
    errors = capsys.readouterr().err
    assert "bad option" in errors and "H100:x" in errors and "Traceback" not in errors
    with pytest.raises(SystemExit):  # argparse: invalid choice, exit 2
        cli(["preflight", "--task", str(task_file), "--vllm-mode", "both"])


def test_a_served_model_is_evaluated_like_any_hosted_one(course):
    """evaluate_served against a stand-in OpenAI-compatible server (plumbing only: its "model"
    is a fixed rule), through the task's real tool service and grader."""
    from fake_responses import fake_responses_app

    from rftkit.serving import serve_in_background
    from rftkit.trl.evaluate import evaluate_served

    bodies: list[dict] = []
    with serve_in_background(fake_responses_app(bodies)) as url:
        result = evaluate_served(
            course.task, f"{url}/v1", "ftjob-trl-x", "key", k=2, env=course.env
        )
    summary = result.summary(timings=False)["value"]
    lines = len(course.task.items("validation"))
    assert summary["rollouts"] == 2 * lines and summary["scored"] == 2 * lines
    offered = {t["name"] for t in bodies[0]["tools"]}
    assert offered == {t.name for t in course.task.tools}


def test_cli_evaluate_needs_a_token_for_a_job(course, no_modal_token, monkeypatch, tmp_path):
    monkeypatch.setenv("VLLM_API_KEY", "k")
    task_file = course.task.root / "task.json"
    assert cli(["evaluate", "--task", str(task_file), "--job", "ftjob-trl-x"]) == 2
    assert cli(["evaluate", "--task", str(task_file)]) == 2


def test_cancel_leaves_an_ended_job_alone_and_names_a_missing_call(tmp_path, monkeypatch):
    """With a (fake) token: an ended job is not cancelled again (no Modal call is made); a
    running job without a recorded call says how to stop it instead of a traceback."""
    from rftkit.trl.backend import LocalRunFolder

    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-fake")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-fake")
    for status in ("succeeded", "failed", "cancelled", "timed_out"):
        (tmp_path / "status.json").write_text(f'{{"status": "{status}", "error": null}}')
        job = TRLModalJob("ftjob-trl-x", LocalRunFolder(tmp_path), call_id="fc-1")
        assert job.cancel() is job and job.status == status
    (tmp_path / "status.json").write_text('{"status": "running", "error": null}')
    with pytest.raises(RuntimeError, match="call.json"):
        TRLModalJob("ftjob-trl-x", LocalRunFolder(tmp_path)).cancel()


def test_a_lora_checkpoint_is_served_as_an_adapter_on_its_base(tmp_path):
    from rftkit.trl.modal_app import serve_command

    full = serve_command(tmp_path, "ftjob-trl-x", "Qwen/Qwen3-1.7B")
    assert full[:5] == ["vllm", "serve", str(tmp_path), "--served-model-name", "ftjob-trl-x"]
    (tmp_path / "adapter_config.json").write_text("{}")
    lora = serve_command(tmp_path, "ftjob-trl-x", "Qwen/Qwen3-8B")
    assert lora[2] == "Qwen/Qwen3-8B" and f"ftjob-trl-x={tmp_path}" in lora
    assert "--enable-lora" in lora and lora[lora.index("--tool-call-parser") + 1] == "hermes"


def test_rftkit_jobs_drives_trl_modal_without_a_token(
    tmp_path, capsys, monkeypatch, no_modal_token, course
):
    """``rftkit jobs preflight|forecast|launch --backend trl-modal``: TRL's checks and job table;
    launching and reading jobs without a Modal token exit 2 saying what to do."""
    from rftkit.cli import main as rftkit

    cli(
        ["course-task", "--tools-url", "https://ws--rftkit-tools.modal.run", "--out", str(tmp_path)]
    )
    task = str(tmp_path / "task.json")
    monkeypatch.setenv(TOKEN_ENV, course.env[TOKEN_ENV])
    capsys.readouterr()
    assert rftkit(["jobs", "preflight", "--task", task, "--backend", "trl-modal"]) == 0
    assert "preflight passed" in capsys.readouterr().out
    full = ["--model", "Qwen/Qwen3-4B", "--finetune", "full"]
    assert rftkit(["jobs", "preflight", "--task", task, "--backend", "trl-modal", *full]) == 1
    assert "Would fit" in capsys.readouterr().out
    assert rftkit(["jobs", "forecast", "--task", task, "--backend", "trl-modal"]) == 0
    assert "cost USD (ceiling)" in capsys.readouterr().out
    assert rftkit(["jobs", "launch", "--task", task, "--backend", "trl-modal"]) == 2
    assert "modal setup" in capsys.readouterr().err
    bad = ["jobs", "launch", "--task", task, "--backend", "trl-modal", "--gpu", "H100:x"]
    assert rftkit(bad) == 2
    assert "H100:x" in capsys.readouterr().err
    for action in ("status", "events", "cancel", "pause"):
        assert rftkit(["jobs", action, "ftjob-trl-x", "--backend", "trl-modal"]) == 2
        assert "modal setup" in capsys.readouterr().err
    assert course.env[TOKEN_ENV] not in capsys.readouterr().out


def test_the_run_command_is_one_process_or_accelerate_with_fsdp2(tmp_path):
    from rftkit.trl.run import launch_command

    assert launch_command(tmp_path, 1)[1:] == ["-m", "rftkit.trl.run", str(tmp_path)]
    four = launch_command(tmp_path, 4)
    assert four[1:3] == ["-m", "accelerate.commands.launch"]
    assert four[four.index("--num_processes") + 1] == "4"
    assert four[four.index("--fsdp_version") + 1] == "2" and "--use_fsdp" in four
    assert four[four.index("--fsdp_state_dict_type") + 1] == "FULL_STATE_DICT"
    assert four[-3:] == ["-m", "rftkit.trl.run", str(tmp_path)]
    from accelerate.commands.launch import launch_command_parser

    parsed = launch_command_parser().parse_args(four[3:])  # accelerate's own parser takes them
    assert parsed.use_fsdp and parsed.fsdp_version == "2" and parsed.num_processes == 4
