"""Every backend is one :class:`~rftkit.jobs.backend.Backend` and its jobs one
:class:`~rftkit.jobs.backend.Job`: the conformance tests, parametrised over every backend.

Hosted backends talk to the fake OpenAI/Azure API on loopback through the real ``openai`` client;
``trl-modal`` runs without a Modal token (as in CI) and must say so, not trace back."""

import inspect
import json
import types

import openai
import pytest
from fake_openai_api import FakeState, fake_openai_app
from test_jobs_forecast import _trace

from rftkit.api import serve_api
from rftkit.hyperparameters import AUTO, NAMES, resolve
from rftkit.jobs import launch
from rftkit.jobs.backend import (
    BACKENDS,
    Backend,
    BackendUnavailable,
    HostedBackend,
    Job,
    LocalBackend,
    get_backend,
)
from rftkit.jobs.forecast import Forecast
from rftkit.jobs.hosted import HostedJob
from rftkit.jobs.local import LocalJob
from rftkit.jobs.report import PreflightFailed, Report
from rftkit.local.grpo import GRPOConfig
from rftkit.serving import serve_in_background
from rftkit.task import RFTTask, TaskTool
from rftkit.trl.backend import LocalRunFolder, TRLModalBackend, TRLModalJob

TOKEN = "conformance-token-5be1c9"
LITERAL = "sk-literal-7d20aa51c3"
ENV = {"CONF_TOKEN": TOKEN}
GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
          "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip


@pytest.fixture(scope="module")
def platform():
    with serve_in_background(fake_openai_app(FakeState())) as url:
        yield url


@pytest.fixture(scope="module")
def local_api(tmp_path_factory):
    """The local fine-tuning API (``rftkit api serve``) on loopback: the hosted backend reaches
    it with nothing but the client's base URL."""
    with serve_api(tmp_path_factory.mktemp("api")) as api:
        yield api


@pytest.fixture
def no_modal_token(monkeypatch, tmp_path):
    monkeypatch.delenv("MODAL_TOKEN_ID", raising=False)
    monkeypatch.delenv("MODAL_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(tmp_path / "absent.toml"))


LOCAL_API = "openai on the local API"
CASES = [*BACKENDS, LOCAL_API]


def _backend(name, url, request=None) -> Backend:
    if name == LOCAL_API:
        api = request.getfixturevalue("local_api")
        client = openai.OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
        return get_backend("openai", client=client, timeout=10)
    if name in ("openai", "azure"):
        base = f"{url}/v1" if name == "openai" else f"{url}/openai/v1/"
        client = openai.OpenAI(base_url=base, api_key="conformance-api-key", max_retries=0)
        return get_backend(name, client=client, timeout=10)
    return get_backend(name)


@pytest.fixture
def task(tmp_path):
    lines = [{"messages": [{"role": "user", "content": f"What is {n} + 1?"}], "answer": str(n + 1)}
             for n in range(12)]  # fmt: skip
    for name, part in (("train", lines[:10]), ("valid", lines[10:])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in part))
    return RFTTask.in_folder(
        tmp_path, name="arith", training_file="train.jsonl", validation_file="valid.jsonl",
        grader=GRADER, model="o4-mini-2025-04-16",
        tools=[TaskTool(name="search", server_url="https://tools.example.com/call",
                        headers={"Authorization": "Bearer ${CONF_TOKEN}"})],
    )  # fmt: skip


def _literal(task: RFTTask) -> RFTTask:
    """A literal header value, as code can make one (``model_copy`` skips the task's checks)."""
    tool = task.tools[0].model_copy(update={"headers": {"Authorization": f"Bearer {LITERAL}"}})
    return task.model_copy(update={"tools": [tool]})


def _parameters(function) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()
            if p.name != "self"]  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_every_backend_satisfies_the_protocol_with_its_signatures(name, platform, request):
    backend = _backend(name, platform, request)
    assert isinstance(backend, Backend) and backend.name == name.split()[0]
    for method in ("preflight", "forecast", "launch", "open"):
        declared = _parameters(getattr(Backend, method))
        own = _parameters(getattr(backend, method))
        assert own[: len(declared) - 1] == declared[:-1], (name, method, own)  # before **options
        assert declared[-1][1] is inspect.Parameter.VAR_KEYWORD or declared[-1] in own
    assert not isinstance(object(), Backend)


@pytest.mark.parametrize("job_class", [LocalJob, HostedJob, TRLModalJob])
def test_every_job_class_has_the_job_protocols_members_and_parameters(job_class):
    members = ("as_job", "events", "stream", "watch", "wait", "checkpoints", "pause", "resume",
               "cancel")  # fmt: skip
    for member in members:
        declared = [n for n, _ in _parameters(getattr(Job, member))]
        own = [n for n, _ in _parameters(getattr(job_class, member))]
        assert own[: len(declared)] == declared, (job_class.__name__, member, own)
    assert isinstance(inspect.getattr_static(job_class, "status", None), property) or (
        job_class is LocalJob  # a plain attribute, set in __init__
    )


def test_jobs_launched_on_every_backend_are_jobs_and_hear_progress(
    platform, task, tmp_path, tiny_course_task
):
    """Launched through the protocol (preflight skipped: the fake's task is not ready), each
    job is a Job, and ``on_progress`` reaches what the backend reports progress with."""
    heard: list[str] = []
    hosted = _backend("openai", platform)
    job = launch(hosted, task, env=ENV, skip_preflight=True, on_progress=heard.append,
                 file_wait={"poll": 0})  # fmt: skip
    assert isinstance(job, HostedJob) and isinstance(job, Job)
    assert job.api.progress == heard.append  # file waits and slow requests are said through it
    assert isinstance(hosted.open(job.id), Job) and hosted.open(job.id).id == job.id
    course = tiny_course_task
    local = launch("local", course.task, env=course.env, skip_preflight=True,
                   on_progress=heard.append, grpo={"steps": 1},
                   out_dir=tmp_path / "job")  # fmt: skip
    assert isinstance(local, LocalJob) and isinstance(local, Job)
    assert local.cancel(wait=60).wait(60) == "cancelled"
    assert "Job started" in heard and "Cancel requested" in " ".join(heard)
    (tmp_path / "status.json").write_text('{"status": "succeeded", "error": null}')
    trl = TRLModalJob("ftjob-trl-x", LocalRunFolder(tmp_path))
    assert isinstance(trl, Job) and trl.watch() == "succeeded"
    assert not isinstance(object(), Job)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("bad", ["literal secret", "missing variable"])
def test_the_same_bad_task_is_refused_by_every_backend_with_the_same_message(
    name, bad, platform, task, no_modal_token, request
):
    broken, env = (_literal(task), ENV) if bad == "literal secret" else (task, {})
    backend = _backend(name, platform, request)
    options = {} if name == "trl-modal" else {"readiness_rollouts": 0}
    report = backend.preflight(broken, env=env, **options)
    assert isinstance(report, Report) and not report.ok
    row = next(r for r in report.rows if r.check == "secrets")
    if bad == "literal secret":
        expected = ("tools[search].headers.Authorization holds a literal value; a task file "
                    "stores only references to environment variables, e.g. "
                    "'Bearer ${MY_TOOL_TOKEN}'")  # fmt: skip
    else:
        expected = ("tools[search].headers.Authorization: environment variable CONF_TOKEN "
                    "is not set (export it, or pass env={...} to the call)")  # fmt: skip
    assert (row.result, row.detail) == ("error", expected)
    assert ("error", f"secrets: {expected}") in report.problems()
    assert LITERAL not in report.render() and LITERAL not in report.table().to_string()
    assert LITERAL not in repr(report)
    with pytest.raises(PreflightFailed, match="NOT READY") as refused:
        launch(backend, broken, env=env, preflight=options)
    assert refused.value.report.rows == report.rows
    assert LITERAL not in str(refused.value)


def test_a_reports_rows_read_both_old_spellings_and_mask_what_is_added():
    report = Report("t", "local", secrets=[TOKEN])
    report.add("tools", "warning", f"echoed {TOKEN}")
    report.add("grader", "ok", "fine")
    row = report.rows[0]
    assert (row["check"], row["result"]) == ("tools", "warning") == (row.name, row.level)
    assert TOKEN not in row.detail and report.ok and report.passed
    assert report.problems() == [("warning", "tools: echoed **********")]
    assert report.render().endswith("preflight passed: READY TO LAUNCH")
    assert list(report.table().columns) == ["check", "result", "detail"]
    with pytest.raises(ValueError, match="result must be one of"):
        report.add("x", "fine", "")
    with pytest.raises(KeyError, match="not 'level'"):
        row["level"]


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backends_forecast_is_a_forecast(name, platform, task):
    baseline = types.SimpleNamespace(traces=[_trace(n, s) for n, s in enumerate([2, 2, 2, 10])])
    fc = _backend(name, platform).forecast(task, baseline=baseline)
    assert isinstance(fc, Forecast) and fc.backend == name and fc.plan.steps >= 1
    assert "steps" in fc.text() and fc.wall_hours[0] <= fc.wall_hours[1]
    if name == "trl-modal":
        assert fc.profile is None and fc["steps"] == fc.plan.steps and fc["usd"] > 0
        assert "cost USD (ceiling)" in fc.text()
    else:
        assert fc.profile is not None and fc.profile.rollouts == 4
        with pytest.raises(ValueError, match="baseline="):
            _backend(name, platform).forecast(task)


def test_trl_without_a_modal_token_says_what_to_do(task, no_modal_token, monkeypatch):
    monkeypatch.setenv("CONF_TOKEN", TOKEN)
    backend = get_backend("trl-modal")
    with pytest.raises(BackendUnavailable, match="modal setup"):
        launch(backend, task, skip_preflight=True)
    with pytest.raises(BackendUnavailable, match="modal setup"):
        backend.open("ftjob-trl-x")
    job = TRLModalJob("ftjob-trl-x", folder=None, call_id="fc-1")  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="cannot pause: cancel, then launch again"):
        job.pause()


def test_the_local_backend_says_its_jobs_cannot_be_opened_and_refuses_unknown_options(task):
    with pytest.raises(ValueError, match="inside the process that launched them"):
        LocalBackend().open("ftjob-local-x")
    with pytest.raises(ValueError, match="takes no force"):
        LocalBackend().launch(task, force=True)
    with pytest.raises(ValueError, match="takes no budget"):
        TRLModalBackend().preflight(task, budget=3)
    with pytest.raises(ValueError, match="known backends: local, openai, azure, trl-modal"):
        get_backend("trl")
    with pytest.raises(ValueError, match="openai and azure"):
        HostedBackend("local")


def test_auto_is_resolved_in_one_table_for_every_backend(task):
    assert set(AUTO) == set(BACKENDS) and all(set(t) == set(NAMES) for t in AUTO.values())
    engine = GRPOConfig()  # the local column is the local engine's own defaults
    local = AUTO["local"]
    assert (local["batch_size"], local["eval_interval"], local["eval_samples"]) == (
        engine.tasks_per_step, engine.eval_interval, engine.valid_repeats)  # fmt: skip
    values, left = resolve({"n_epochs": 3, "batch_size": "auto"}, "azure")
    assert values["n_epochs"] == 3 and values["batch_size"] == AUTO["azure"]["batch_size"]
    assert "n_epochs" not in left and "batch_size" in left
    with pytest.raises(ValueError, match="no auto values for backend 'x'"):
        resolve({}, "x")
