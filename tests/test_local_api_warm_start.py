"""The local fine-tuning API rehearses a team's own task: a server started with the task's
reference solver (``serve_api(warm_start=...)``, ``rftkit api serve --warm-start``) warm-starts
every job's model from it, so a job created through the real ``openai`` client over loopback HTTP
trains a model that calls the team's tools. The team's task is the SQLite order task
(``tests/order_project.py``) in a project made by ``rftkit new``, its tools served by the
project's own service, whose access log (``rftkit.toolserver.access``) is the count the job's
events must match.

The solver is the server's setting, never the request's: as an attacker who can reach the API,
naming a module in the create request is refused and never imported."""

from __future__ import annotations

import importlib
import logging
import re
import sys
import time
from collections import Counter

import openai
import pytest
from order_project import AccessLog

from rftkit.api import serve_api
from rftkit.cli import main
from rftkit.local.checkpoint import BASE_MODEL
from rftkit.local.warmstart import WarmStartConfig
from rftkit.rollouts import run_rollouts_sync
from rftkit.rollouts.openai_policy import OpenAICompatiblePolicy
from rftkit.serving import serve_in_background
from rftkit.toolserver.app import ACCESS_LOG

PACKAGE = "order_rehearsal"  # not test_local_warm_start's package: both may share a process
TOKEN = "order-rehearsal-token"
GRPO = {"steps": 2, "tasks_per_step": 6, "group_size": 4, "triage_repeats": 2,
        "eval_interval": 2, "valid_repeats": 1}  # fmt: skip
WARM = WarmStartConfig(steps=150)
CALLED = "rftkit_api_attack_marker"
"""A module an attacker names in a request: importing it would write a marker file."""



@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """``rftkit new order-rehearsal`` with the order task swapped in, importable here, and its
    tool service on loopback with the access log recorded."""
    from order_project import swap_in_order_task

    root = tmp_path_factory.mktemp("projects") / "order-rehearsal"
    assert main(["new", str(root)]) == 0
    swap_in_order_task(root, PACKAGE)
    sys.path.insert(0, str(root))
    log, logger = AccessLog(), logging.getLogger(ACCESS_LOG)
    level = logger.level
    logger.addHandler(log)
    logger.setLevel(logging.INFO)
    try:
        task_module = importlib.import_module(f"{PACKAGE}.task")
        service = importlib.import_module(f"{PACKAGE}.service")
        with serve_in_background(service.create_service(token=TOKEN)) as url:
            task_module.write_task(root / "build", url)
            yield task_module.project_task(root / "build", url), log
    finally:
        logger.removeHandler(log)
        logger.setLevel(level)
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _upload(client: openai.OpenAI, task) -> tuple[str, str]:
    train = client.files.create(file=task.path("train").open("rb"), purpose="fine-tune")
    valid = client.files.create(file=task.path("validation").open("rb"), purpose="fine-tune")
    return train.id, valid.id


def _raw(client: openai.OpenAI, job_id: str) -> dict:
    return client.fine_tuning.jobs.with_raw_response.retrieve(job_id).http_response.json()


def _wait(client: openai.OpenAI, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := _raw(client, job_id))["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.3)
    return job


@pytest.fixture(scope="module")
def api(project, tmp_path_factory):
    """The API serving the project's solver as its warm start, the task's files uploaded."""
    task, _ = project
    solver = f"{PACKAGE}.solver:solve"
    data = tmp_path_factory.mktemp("api")
    with serve_api(data, grpo=GRPO, warm_start=solver, warm_start_config=WARM) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key=served.api_key)
        yield served, client, _upload(client, task)


@pytest.fixture(scope="module")
def rehearsal(project, api):
    """One job created through the ``openai`` client exactly as on the hosted API, trained to
    its end; then its fine-tuned model, served by id, answers the validation lines."""
    (task, log), (served, client, (train, valid)) = project, api
    env = {"RFTKIT_TOOL_TOKEN": TOKEN}
    before = len(log.entries)
    started = time.perf_counter()
    created = client.fine_tuning.jobs.create(
        model=task.model, training_file=train, validation_file=valid, seed=0,
        extra_body={"method": task.reinforcement_method(env)},
    )  # fmt: skip
    job = _wait(client, created.id)
    seconds = time.perf_counter() - started
    during_job = log.entries[before:]
    events = client.fine_tuning.jobs.list_events(created.id, limit=1000).data
    served_by = {}
    for model in (BASE_MODEL, job["fine_tuned_model"] or "no model"):
        served_from = len(log.entries)
        policy = OpenAICompatiblePolicy(
            openai.AsyncOpenAI(base_url=served.base_url, api_key=served.api_key), model
        )
        traces = run_rollouts_sync(
            task.items("validation"), policy, tools=task.job_tools(env), grader=task.grader,
            max_episode_steps=task.max_episode_steps, progress=False,
        )  # fmt: skip
        served_by[model] = (traces, log.entries[served_from:])
    oldest_first = list(reversed(events))
    print(f"\nAPI job {job['status']} in {seconds:.0f} s:")
    for event in oldest_first:
        print(f"  {event.created_at - oldest_first[0].created_at:3d} s  {event.message[:100]}")
    for model, (traces, calls) in served_by.items():
        tools = dict(Counter(e["tool"] for e in calls))
        print(f"  {model}: {len(traces)} rollouts, tool calls {tools}")
    return job, [e.message for e in oldest_first], during_job, served_by


def test_a_job_created_as_on_the_hosted_api_is_warm_started_from_the_servers_solver(rehearsal):
    job, events, _, _ = rehearsal
    assert job["status"] == "succeeded", job["error"]
    assert job["fine_tuned_model"].startswith("ft:rftkit-tinylm-warmstart:local:")
    assert events[0].startswith("Rehearsal of the hosted job")
    assert f"reference solver ({PACKAGE}.solver:solve)" in events[0]
    assert not any("not a course-world task" in m for m in events)
    warm = next(m for m in events if m.startswith("Warm start: the reference solver"))
    assert "ran 18 rollouts" in warm and "18 transcripts the grader marked correct" in warm


def test_the_events_count_the_calls_the_teams_service_logged(rehearsal):
    _, events, entries, _ = rehearsal
    assert Counter(e["tool"] for e in entries).keys() == {"lookup_order", "get_shipping_eta"}
    solver = entries[:26]  # the solver's 18 rollouts: one lookup each, a second call for ETAs
    per_trace = Counter(e["trace_id"] for e in solver)
    assert len(per_trace) == 18 and set(per_trace.values()) == {1, 2}
    closing = next(m for m in reversed(events)
                   if m.startswith("Tool requests that reached the task's tool URLs"))  # fmt: skip
    assert int(re.search(r"URLs: (\d+)", closing).group(1)) == len(entries)
    phases = dict(re.findall(r"([a-z -]+) (\d+)", closing.split("(", 1)[1]))
    assert {p.strip() for p in phases} >= {"warm start", "triage", "training"}
    assert sum(int(n) for n in phases.values()) == len(entries)


def test_the_fine_tuned_model_served_by_id_calls_the_teams_tools(rehearsal):
    """Through responses.create, as a team would evaluate it: the warm-started model calls the
    order tools on the held-out lines, one trace id per rollout; the base model, which knows only
    the course's tools, sends the service nothing."""
    _, _, _, served_by = rehearsal
    (base_traces, base_calls), (traces, calls) = served_by.values()
    assert len(base_traces) == len(traces) == 12
    assert base_calls == []
    assert all(t.status == "completed" for t in traces)
    assert Counter(e["tool"] for e in calls)["lookup_order"] >= 6
    assert {e["trace_id"] for e in calls} <= {t.trace_id for t in traces}


@pytest.fixture
def attack_module(tmp_path, monkeypatch):
    """A module on the server's path whose import leaves a marker: if the server ever imports a
    module a request names, the marker says so."""
    marker = tmp_path / "imported"
    (tmp_path / f"{CALLED}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "def solve(line):\n    raise SystemExit('attacker code ran')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop(CALLED, None)


def test_a_request_cannot_name_a_solver_to_import(project, api, rehearsal, attack_module):
    """Runs after the rehearsal (its job done), on the same warm-starting server."""
    task, _ = project
    _, client, (train, valid) = api
    base = {"model": task.model, "training_file": train, "validation_file": valid}
    method = task.reinforcement_method({"RFTKIT_TOOL_TOKEN": TOKEN})
    for body, param in (
        ({"method": method, "warm_start": f"{CALLED}:solve"}, "warm_start"),
        ({"method": method | {"warm_start": f"{CALLED}:solve"}}, "method.warm_start"),
        ({"method": {**method, "reinforcement": {**method["reinforcement"],
                                                 "warm_start": f"{CALLED}:solve"}}},
         "method.reinforcement.warm_start"),
    ):  # fmt: skip
        with pytest.raises(openai.BadRequestError) as refused:
            client.fine_tuning.jobs.create(**base, extra_body=body)
        assert refused.value.response.json()["error"]["param"] == param
        assert "warm_start" in refused.value.response.json()["error"]["message"]
    assert not attack_module.exists() and CALLED not in sys.modules
    assert len(client.fine_tuning.jobs.list().data) == 1  # the rehearsal's job only


def test_the_server_refuses_to_start_with_a_solver_it_cannot_load(capsys, tmp_path):
    for spec, said in (
        ("no_such_project.solver:solve", "cannot import no_such_project"),
        ("json:nope", "has no function 'nope'"),
        ("order_rehearsal.solver", "module:function"),
    ):
        argv = ["api", "serve", "--data-dir", str(tmp_path), "--warm-start", spec]
        assert main(argv) == 2
        assert said in capsys.readouterr().out
