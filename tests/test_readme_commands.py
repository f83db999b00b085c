"""Every command the README shows, run as its reader runs it: a subprocess in a fresh, empty working
directory, with the README's relative paths. (``make demo``'s command is in test_demo.py and
``rftkit new``'s in test_new_project.py; the ``modal`` commands need Modal and are tested offline
in test_modal_app.py and test_trl_modal.py; "Rehearse your own task locally" runs on a project
made by ``rftkit new``, here.)"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from commands import command_env, run_python, run_rftkit
from fake_openai_api import FakeState, fake_openai_app

from rftkit.course.dataset import course_tool_specs
from rftkit.serving import serve_in_background
from rftkit.task import RFTTask, TaskTool
from tools_service.app import create_app

TOOL_TOKEN = "canary-readme-tool-5c1e"
API_KEY = "canary-readme-key-77a0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tools_serve_then_endpoints_check_with_a_relative_plot_path(tmp_path):
    port = _free_port()
    env = command_env({"RFTKIT_TOOL_TOKEN": TOOL_TOKEN})
    server = subprocess.Popen(
        [sys.executable, "-m", "rftkit", "tools", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(server, port)
        done = run_rftkit(
            tmp_path,
            "endpoints", "check", f"http://127.0.0.1:{port}",
            "--rollouts", "20", "--calls", "5", "--plot", "runs/ready.png",
            env={"RFTKIT_TOOL_TOKEN": TOOL_TOKEN},
        )  # fmt: skip
    finally:
        server.terminate()
        served_output = server.communicate(timeout=30)[0]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "runs" / "ready.png").stat().st_size > 1000
    assert "p99" in done.stdout
    for text in (done.stdout, done.stderr, served_output):
        assert TOOL_TOKEN not in text


def test_local_pretrain_writes_the_checkpoint_at_the_readme_relative_path(tmp_path):
    """The README's path, shrunk: one world, two optimiser steps (the real run takes ~40 min)."""
    done = run_rftkit(
        tmp_path,
        "local", "pretrain", "--seed", "0", "--worlds", "1", "--cycles", "2",
        "--slot-weights", "1", "--out", "rftkit/local/checkpoints/base.pt",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "rftkit/local/checkpoints/base.pt").stat().st_size > 10_000


def test_trl_course_task_writes_a_task_that_describe_reads_back(tmp_path):
    done = run_rftkit(
        tmp_path,
        "trl", "course-task",
        "--tools-url", "https://ws--rftkit-tools.modal.run", "--out", "runs/course-trl",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    task = RFTTask.load(tmp_path / "runs/course-trl/task.json")
    assert len(task.items("train")) > 0 and len(task.items("validation")) > 0
    done = run_python(
        tmp_path, "-m", "rftkit.trl", "describe", "--task", "runs/course-trl/task.json"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "modal run --detach -m rftkit.trl.modal_app" in done.stdout


def test_rftkit_trl_and_python_m_rftkit_trl_are_one_command(tmp_path):
    """`rftkit trl` is registered with the other groups; `python -m rftkit.trl` stays."""
    registered = run_rftkit(tmp_path, "trl", "fits")
    module = run_python(tmp_path, "-m", "rftkit.trl", "fits")
    assert registered.returncode == module.returncode == 0, registered.stderr + module.stderr
    assert "| Qwen3-8B" in registered.stdout and registered.stdout == module.stdout


@pytest.fixture
def azure(tmp_path_factory):
    """The fake Azure fine-tuning API and a tool service, both on loopback."""
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "notes.md").write_text("# Notes\n\nThe answer to 1 + 1 is 2.\n")
    state = FakeState(azure=True)
    with (
        serve_in_background(fake_openai_app(state)) as url,
        serve_in_background(create_app(corpus, token=TOOL_TOKEN)) as tools,
    ):
        yield state, f"{url}/openai/v1/", tools


def test_the_jobs_commands_from_preflight_to_cancel_with_a_task_beside_the_data(tmp_path, azure):
    state, base_url, tools = azure
    lines = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"{i} + 1?"}],
              "tools": course_tool_specs(), "answer": str(i + 1)} for i in range(24)]  # fmt: skip
    for name, part in (("train", lines[:12]), ("valid", lines[12:])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in part))
    RFTTask.in_folder(
        tmp_path, name="arith", training_file="train.jsonl", validation_file="valid.jsonl",
        grader={"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}", "operation": "eq"},
        tools=[TaskTool(name=s["function"]["name"], server_url=f"{tools}/call",
                        headers={"Authorization": "Bearer ${README_TOOL_TOKEN}"})
               for s in course_tool_specs()],
    ).save(tmp_path / "task.json")  # fmt: skip
    env = {"AZURE_OPENAI_API_KEY": API_KEY, "README_TOOL_TOKEN": TOOL_TOKEN}
    where = ("--backend", "azure", "--base-url", base_url)

    def jobs(*argv: str) -> subprocess.CompletedProcess:
        done = run_rftkit(tmp_path, "jobs", *argv, *where, env=env)
        for secret in (API_KEY, TOOL_TOKEN):
            assert secret not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        return done

    preflight = jobs("preflight", "--task", "task.json", "--rollouts", "0")
    assert preflight.returncode in (0, 1) and "grader: local" in preflight.stdout
    launched = jobs("launch", "--task", "task.json", "--rollouts", "0", "--force")
    assert launched.returncode == 0 and "created" in launched.stdout, launched.stdout
    job_id = launched.stdout.split("job ")[-1].split()[0]
    assert jobs("forecast", "--task", "task.json").returncode == 2  # needs a baseline: says so
    assert jobs("watch", job_id, "--poll", "0").returncode == 0
    for action in ("status", "events"):
        done = jobs(action, job_id)
        assert done.returncode == 0 and done.stdout.strip(), action
    for action in ("pause", "resume", "cancel"):
        assert jobs(action, job_id).returncode in (0, 3), action  # 3: the platform refused
    creates = [r for r in state.requests if r["method"] == "POST" and r["path"].endswith("/jobs")]
    assert len(creates) == 1


def test_rehearse_your_own_task_locally_with_a_warm_start(tmp_path):
    """README "Rehearse your own task locally": the five commands in a fresh, empty folder, with
    the README's relative paths and the job's default settings (about a minute and a half on two
    busy cores). Two stand-ins: ``pip install -e . --no-deps`` is the project folder on
    ``PYTHONPATH`` (what the editable install gives; this test must not install into the shared
    environment), and the service takes a free port instead of 8000, which another process may
    hold; ``--server-url`` names the same port."""
    done = run_rftkit(tmp_path, "new", "support-agent")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    project = tmp_path / "support-agent"
    env = {"RFTKIT_TOOL_TOKEN": "dev-token"}
    installed = command_env(env)
    installed["PYTHONPATH"] = f"{installed['PYTHONPATH']}{os.pathsep}{project}"
    port = _free_port()
    log = (tmp_path / "service.log").open("w")  # a file, not a pipe nobody reads while it runs
    service = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "support_agent.service:create_service",
         "--port", str(port)],
        cwd=project, env=installed, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_healthy(service, port)
        url = f"http://127.0.0.1:{port}"
        wrote = subprocess.run(
            [sys.executable, "-m", "support_agent.task", "--server-url", url],
            cwd=project, env=installed, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert wrote.returncode == 0, wrote.stdout[-3000:] + wrote.stderr[-3000:]
        assert (project / "build" / "task.json").is_file()
        launched = subprocess.run(
            [sys.executable, "-m", "rftkit", "jobs", "launch", "--task", "build/task.json",
             "--backend", "local", "--warm-start", "support_agent.solver:solve"],
            cwd=project, env=installed, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        service.terminate()
        service.wait(timeout=30)
        log.close()
    served = (tmp_path / "service.log").read_text()
    out = launched.stdout
    assert launched.returncode == 0, out[-4000:] + launched.stderr[-3000:]
    assert "preflight passed: READY TO LAUNCH" in out
    assert "(support_agent.solver:solve) by calling the task's tools (search_docs)" in out
    assert "Warm start: the reference solver ran 14 rollouts on the training lines" in out
    assert "The job has successfully completed" in out
    reached = int(re.search(r"Tool requests that reached the task's tool URLs: (\d+)", out)[1])
    # The service's own access log holds the job's calls and the preflight's before them.
    assert 0 < reached <= served.count('"POST /call HTTP/1.1"')


def _wait_healthy(server: subprocess.Popen, port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, f"the tool service exited with {server.returncode}"
        assert time.monotonic() < deadline, f"the tool service did not start in {timeout:.0f} s"
        time.sleep(0.2)
