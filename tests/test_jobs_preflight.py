"""Preflight on real parts: the data validator, the grader engine, the red team, the endpoint
checker on loopback and the platform's graders/validate on a fake API through the real client."""

import datetime as dt
import json

import httpx2
import openai
import pytest
from fake_openai_api import FakeState, fake_openai_app

from rftkit.evaluation.baseline import baseline_from_traces
from rftkit.jobs import HostedJobError, launch
from rftkit.jobs.hosted import HostedAPI
from rftkit.jobs.preflight import preflight
from rftkit.jobs.rules import platform_rules, private_reason
from rftkit.protocol import FunctionSpanData, GenerationSpanData, Sample, Span, Trace, Usage
from rftkit.serving import serve_in_background
from rftkit.task import RFTTask, TaskTool

CANARY = "canary-preflight-9d41aa"
TODAY = dt.date(2026, 12, 1)
EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip


def _lines(n, start=0):
    return [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"What is {i} + 1?"}],
         "answer": str(i + 1)}
        for i in range(start, start + n)
    ]  # fmt: skip


@pytest.fixture
def folder(tmp_path):
    for name, lines in (("train", _lines(12)), ("valid", _lines(10, 100))):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return tmp_path


def _task(folder, **changes):
    fields = {"name": "arith", "training_file": "train.jsonl", "validation_file": "valid.jsonl",
              "grader": EXACT, "model": "o4-mini-2025-04-16"} | changes  # fmt: skip
    return RFTTask.in_folder(folder, **fields)


def _by_check(report):
    return {row["check"]: row for row in report.rows}


@pytest.fixture
def platform():
    state = FakeState()
    with serve_in_background(fake_openai_app(state)) as url:
        yield state, openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)


def test_a_sound_task_passes_with_the_platform_validating_its_grader(folder, platform):
    state, client = platform
    report = preflight(_task(folder), "azure", client=client, today=TODAY)
    rows = _by_check(report)
    assert report.ok, report.text()
    assert rows["grader: platform"]["result"] == "ok"
    assert state.requests[-1]["path"] == "/v1/fine_tuning/alpha/graders/validate"
    assert (
        rows["red team"]["result"] == "ok"
        and "honest answer earns 1.0" in rows["red team"]["detail"]
    )
    assert rows["model"]["result"] == "ok" and "generally available" in rows["model"]["detail"]
    assert rows["forecast"]["result"] == "skipped"
    assert list(report.table().columns) == ["check", "result", "detail"]
    assert report.text().endswith("READY TO LAUNCH")


def test_each_kind_of_problem_is_an_error_row(folder, platform):
    state, client = platform
    state.fail["validate_grader"] = (400, {"error": {"message": f"Invalid grader {CANARY}"}})
    pays_all = {**EXACT, "operation": "like", "reference": "{{item.missing}}"}
    task = _task(
        folder,
        grader=pays_all,
        tools=[TaskTool(name="calculator", server_url="http://127.0.0.1:9/call",
                        headers={"Authorization": "Bearer ${TOOL_TOKEN}"})],
    )  # fmt: skip
    report = preflight(task, "openai", client=client, env={"TOOL_TOKEN": CANARY},
                       today=dt.date(2027, 1, 6), readiness_rollouts=0)  # fmt: skip
    errors = {row["check"] for row in report.errors}
    assert {"data: train", "grader: platform", "tools", "model"} <= errors, report.text()
    assert "item.missing" in _by_check(report)["data: train"]["detail"]
    assert "no Agent RFT" in _by_check(report)["model"]["detail"]
    tools = [row for row in report.rows if row["check"] == "tools"]
    assert any(row["result"] == "error" and "no response" in row["detail"] for row in tools)
    assert CANARY not in report.text() and CANARY not in report.table().to_string()
    assert not report.ok and "NOT READY" in report.text()


def test_a_grader_that_pays_for_bad_answers_fails_the_red_team(folder):
    pays_all = {**EXACT, "operation": "like", "reference": ""}
    report = preflight(_task(folder, grader=pays_all), "local", today=TODAY)
    row = _by_check(report)["red team"]
    assert row["result"] == "error" and "empty: mean reward 1.000" in row["detail"]


def test_a_missing_secret_is_named_and_stops_the_checks_that_need_it(folder):
    task = _task(folder, tools=[TaskTool(name="t", server_url="https://t.example/call",
                                         headers={"Authorization": "Bearer ${NOPE}"})])  # fmt: skip
    report = preflight(task, "local", env={}, today=TODAY)
    rows = _by_check(report)
    assert rows["secrets"]["result"] == "error" and "NOPE" in rows["secrets"]["detail"]
    assert "red team" not in rows and "tools" not in rows


def _trace(line, reward, latency):
    tid = f"trace_{line['id']}"
    spans = [
        Span(trace_id=tid, span_id="g", started_at=0, ended_at=1,
             span_data=GenerationSpanData(usage=Usage(input_tokens=50, output_tokens=5))),
        Span(trace_id=tid, span_id="f", started_at=1, ended_at=1.2,
             span_data=FunctionSpanData(name="calculator", input="{}", output="The sum is 99")),
    ]  # fmt: skip
    return Trace(trace_id=tid, item_id=line["id"], policy="p", status="completed",
                 started_at=0, ended_at=latency, spans=spans,
                 sample=Sample.from_text(line["answer"] if reward else "99"),
                 reward=reward)  # fmt: skip


def test_a_baseline_gives_red_team_cases_and_a_forecast_checked_against_the_budget(folder):
    lines = _lines(12)
    traces = [_trace(line, float(i % 2), 5.0) for i, line in enumerate(lines)]
    report = preflight(_task(folder), "azure", baseline=baseline_from_traces(traces),
                       budget_usd=0.5, today=TODAY)  # fmt: skip
    rows = _by_check(report)
    assert "from the baseline's best rollouts" in rows["red team"]["detail"]
    assert rows["forecast"]["result"] == "error" and "budget of $0" in rows["forecast"]["detail"]
    assert report.forecast is not None and report.forecast.plan.steps >= 1


def test_openai_from_the_last_date_is_an_error_except_on_a_local_platform(folder, platform):
    """The wind-down is OpenAI's service's: the same API served locally (this fake on loopback,
    or rftkit api serve) goes on taking jobs."""
    last = dt.date(2027, 1, 6)
    row = _by_check(preflight(_task(folder), "openai", today=last))["availability"]
    assert row["result"] == "error" and "Azure" in row["detail"]
    _, client = platform
    local = preflight(_task(folder), "openai", client=client, today=last, readiness_rollouts=0)
    row = _by_check(local)["availability"]
    assert row["result"] == "ok" and "does not apply" in row["detail"], row


def test_openai_before_the_last_date_is_a_warning_with_the_days_left(folder):
    report = preflight(_task(folder), "openai", today=TODAY)
    row = _by_check(report)["availability"]
    assert row["result"] == "warning" and "2027-01-06 (36 days)" in row["detail"]
    model = _by_check(report)["model"]
    assert model["result"] == "warning" and "reported shut down" in model["detail"]


def test_the_course_service_is_called_with_the_task_headers_and_lines(tiny_course_task):
    report = preflight(tiny_course_task.task, "local", env=tiny_course_task.env,
                       readiness_rollouts=4, today=TODAY)  # fmt: skip
    tools = [row for row in report.rows if row["check"] == "tools"]
    assert tools and not [row for row in tools if row["result"] == "error"], report.text()
    token = tiny_course_task.env["RFTKIT_TOOL_TOKEN"]
    assert token not in report.text()
    without = preflight(tiny_course_task.task, "local", env={"RFTKIT_TOOL_TOKEN": "wrong-token"},
                        readiness_rollouts=0, today=TODAY)  # fmt: skip
    refused = [r for r in without.rows if r["check"] == "tools" and r["result"] == "error"]
    assert refused and "401" in " ".join(r["detail"] for r in refused)


def test_the_task_platform_profile_and_the_bleu_trap_reach_preflight(tmp_path):
    for name, lines in (("train", _lines(3)), ("valid", _lines(3, 100))):  # 3 lines: Azure wants 10
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    bleu = {"type": "text_similarity", "name": "bleu", "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}", "evaluation_metric": "bleu"}  # fmt: skip
    for platform, data_result in ((None, "warning"), ("azure", "error")):
        task = _task(tmp_path, grader=bleu, platform=platform)
        report = preflight(task, "local", today=TODAY)
        assert _by_check(report)["data: train"]["result"] == data_result, report.text()
        grader_rows = [r for r in report.rows if r["check"] == "grader: local"]
        assert any(r["result"] == "warning" and "bleu" in r["detail"] for r in grader_rows)


# -- the platforms' own rules, before anything is uploaded ------------------------------------
LOOPBACK_TOOL = TaskTool(name="calculator", server_url="http://127.0.0.1:8000/call")
ENDPOINT_GRADER = {"type": "endpoint", "name": "judge", "url": "http://10.1.2.3/score"}
OUT_OF_RANGE = {"n_epochs": 100, "batch_size": 1000, "compute_multiplier": 20,
                "eval_interval": 1.5}  # fmt: skip


def _recording_client(base_url="https://res.openai.azure.com/openai/v1/"):
    """A client for a public platform URL that records instead of sending anything."""
    sent = []

    def handler(request):
        sent.append(f"{request.method} {request.url.path}")
        return httpx2.Response(500, json={"error": {"message": "must not be reached"}})

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0, http_client=http)
    return client, sent


def test_hyperparameters_outside_the_published_ranges_are_errors(folder):
    report = preflight(_task(folder, hyperparameters=OUT_OF_RANGE), "azure", today=TODAY)
    rows = [r["detail"] for r in report.rows if r["check"] == "hyperparameters"]
    assert [r["result"] for r in report.rows if r["check"] == "hyperparameters"] == ["error"] * 4
    assert "n_epochs=100 must be at most 50" in rows[0]
    assert "batch_size=1000 must be at most 256" in rows[1]
    assert "compute_multiplier=20 must be at most 10" in rows[2]
    assert "eval_interval=1.5 must be a whole number" in rows[3]
    fine = {"n_epochs": 50, "batch_size": 256, "compute_multiplier": 10, "eval_interval": 1}
    assert "hyperparameters" not in _by_check(preflight(_task(folder, hyperparameters=fine),
                                                        "azure", today=TODAY))  # fmt: skip


def test_azure_without_a_validation_file_is_a_blocker_openai_a_warning(folder):
    task = _task(folder, validation_file=None)
    azure = preflight(task, "azure", today=TODAY)
    row = _by_check(azure)["data: validation"]
    assert row["result"] == "error" and "Both a training and a validation dataset" in row["detail"]
    assert _by_check(preflight(task, "openai", today=TODAY))["data: validation"]["result"] == (
        "warning"
    )


def test_loopback_and_private_urls_are_blockers_for_a_hosted_platform(folder):
    task = _task(folder, tools=[LOOPBACK_TOOL], grader={
        "type": "multi", "name": "m", "calculate_output": "exact + judge",
        "graders": {"exact": EXACT, "judge": ENDPOINT_GRADER}})  # fmt: skip
    client, _ = _recording_client()
    rules = platform_rules(task, "azure", str(client.base_url))
    reachable = [(s, m) for c, s, m in rules if c == "reachable URLs"]
    assert [s for s, _ in reachable] == ["error", "error"]
    assert "tool calculator at http://127.0.0.1:8000/call: 127.0.0.1 is a non-public" in (
        reachable[0][1]
    )
    assert "endpoint grader grader.judge at http://10.1.2.3/score" in reachable[1][1]
    assert "notebook 02" not in reachable[0][1]  # the course's notebook is no hint for a team
    assert "`modal deploy -m <package>.modal_app`, or its Dockerfile" in reachable[0][1]
    # In a project made by `rftkit new`, the hint names its own service.
    (folder / "pyproject.toml").write_text("[project]\nname = 'arith'\n")
    (folder / "arith").mkdir()
    for name in ("service.py", "modal_app.py"):
        (folder / "arith" / name).write_text("")
    saved = RFTTask.load(task.save(folder / "task.json"))
    tool_rule = [m for c, _, m in platform_rules(saved, "azure") if m.startswith("tool ")][0]
    assert "deploy the project's tool service: `modal deploy -m arith.modal_app`" in tool_rule
    local_stand_in = platform_rules(task, "azure", "http://127.0.0.1:8765/openai/v1/")
    assert {s for c, s, _ in local_stand_in if c == "reachable URLs"} == {"warning"}
    public = _task(folder, tools=[TaskTool(name="c", server_url="https://93.184.215.14/call")])
    assert not [r for r in platform_rules(public, "azure") if r[0] == "reachable URLs"]
    for host in ("localhost", "svc.internal", "[::1]", "169.254.169.254", "0.0.0.0"):
        assert private_reason(f"http://{host}/call"), host


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"hyperparameters": OUT_OF_RANGE}, "n_epochs=100 must be at most 50"),
        ({"validation_file": None}, "Both a training and a validation dataset"),
        ({"tools": [LOOPBACK_TOOL]}, "127.0.0.1 is a non-public address"),
    ],
)
def test_launch_refuses_a_broken_rule_before_sending_anything(folder, changes, words):
    client, sent = _recording_client()
    with pytest.raises(HostedJobError, match="not launched, nothing sent") as error:
        launch("azure", _task(folder, **changes), skip_preflight=True, client=client, env={})
    assert words in str(error.value) and error.value.kind == "invalid"
    assert sent == []


def test_the_fake_platform_refuses_what_preflight_blocks(folder):
    """The rules are the platform's: sent anyway, the fake (like the service) answers 400."""
    state = FakeState(azure=True)
    with serve_in_background(fake_openai_app(state)) as url:
        client = openai.OpenAI(base_url=f"{url}/openai/v1/", api_key="k", max_retries=0)
        api = HostedAPI(client, "azure")
        method = {"type": "reinforcement", "reinforcement": {"grader": EXACT}}
        body = {"model": "o4-mini", "training_file": "file-1", "method": method}
        with pytest.raises(HostedJobError, match="Both a training and a validation dataset"):
            api.create_job(body)
        body["validation_file"] = "file-2"
        body["method"]["reinforcement"]["hyperparameters"] = {"batch_size": 1000}
        with pytest.raises(HostedJobError, match="Invalid hyperparameter batch_size"):
            api.create_job(body)


def test_max_episode_steps_travels_only_with_tools_and_preflight_says_so(folder):
    bare = _task(folder, max_episode_steps=20)
    assert "max_episode_steps" not in bare.reinforcement_method()["reinforcement"]
    row = _by_check(preflight(bare, "local", today=TODAY))["max_episode_steps"]
    assert row["result"] == "warning" and "it is not sent" in row["detail"]
    tooled = _task(folder, tools=[TaskTool(name="c", server_url="https://t.example/call")])
    assert tooled.reinforcement_method()["reinforcement"]["max_episode_steps"] == 10
    assert "max_episode_steps" not in _by_check(preflight(_task(folder), "local", today=TODAY))


def test_a_grader_reading_output_json_without_response_format_is_warned_on_hosted(folder):
    reads_json = {**EXACT, "input": "{{sample.output_json.answer}}"}
    report = preflight(_task(folder, grader=reads_json), "azure", today=TODAY)
    assert _by_check(report)["response_format"]["result"] == "warning"
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
        "type": "object", "properties": {"answer": {"type": "string"}},
        "required": ["answer"], "additionalProperties": False}}}  # fmt: skip
    with_format = preflight(_task(folder, grader=reads_json, response_format=fmt), "azure",
                            today=TODAY)  # fmt: skip
    assert "response_format" not in _by_check(with_format)


def test_hosted_preflight_refuses_every_spelling_of_an_unreachable_tool_url(folder):
    """Against the public service (no local platform URL), each spelling is a blocker."""
    unreachable = ("http://127.0.0.1:8000/call", "http://0x7f.1:8000/call",
                   "http://169.254.169.254/call", "http://10.1.2.3/call")  # fmt: skip

    def task_at(url):  # an unset header reference: the live tool check is skipped, not this one
        headers = {"Authorization": "Bearer ${RFTKIT_TEST_UNSET_TOKEN}"}
        return _task(folder, tools=[TaskTool(name="search", server_url=url, headers=headers)])

    for url in unreachable:
        rows = [r for r in preflight(task_at(url), "azure", today=TODAY).rows
                if r["check"] == "reachable URLs"]  # fmt: skip
        assert [r["result"] for r in rows] == ["error"], url
        assert "cannot reach from its network" in rows[0]["detail"]
    local = preflight(task_at(unreachable[0]), "local", today=TODAY)
    assert "reachable URLs" not in {r["check"] for r in local.rows}


def test_the_red_team_warns_when_the_honest_path_was_never_tried(folder):
    """Issue 30: a baseline over the validation lines gave no case, the cases came from the
    answers alone (no tool call) and the row said ok. Now it names the probes it tried and says
    the honest path through the tools was never tried, and why."""
    from rftkit.protocol import FunctionSpec, ToolCall

    tool = TaskTool(name="calculator", server_url="http://127.0.0.1:9/call")
    task = _task(folder, tools=[tool])
    over_valid = [_trace(line, 1.0, 5.0) for line in _lines(10, 100)]
    report = preflight(task, "local", baseline=baseline_from_traces(over_valid), today=TODAY,
                       readiness_rollouts=0)  # fmt: skip
    row = _by_check(report)["red team"]
    assert row["result"] == "warning", row
    assert "the honest path was never tried: no case made a tool call" in row["detail"]
    assert "(the baseline given has no rollout of a training line)" in row["detail"]
    assert "probes tried: empty, question echoed, all numbers listed" in row["detail"]
    # Rollouts of training lines that called the tool: the honest path is tried, and with it
    # the lucky guess (the right answer without the tool), which an exact match pays in full.
    call = ToolCall(id="c0", function=FunctionSpec(name="calculator", arguments="{}"))
    over_train = [
        _trace(line, 1.0, 5.0).model_copy(
            update={"sample": Sample.from_text(line["answer"], [call])}
        )
        for line in _lines(12)
    ]
    report = preflight(task, "local", baseline=baseline_from_traces(over_train), today=TODAY,
                       readiness_rollouts=0)  # fmt: skip
    row = _by_check(report)["red team"]
    assert row["result"] == "error" and "from the baseline's best rollouts" in row["detail"], row
    assert "rewarded: lucky guess: mean reward 1.000" in row["detail"]
    assert "never tried" not in row["detail"]
