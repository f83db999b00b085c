"""The rollout engine over real HTTP (uvicorn on loopback) against a small fake tool endpoint."""

import asyncio
import json

import psutil
import pytest
from rollout_fakes import TOKEN, EndpointLog, TurnsPolicy, fake_tool_app, item, job_tools

from rftkit.rollouts import (
    load_traces,
    run_rollouts,
    run_rollouts_sync,
    save_traces,
    spans_frame,
    traces_frame,
)
from rftkit.serving import serve_in_background

FAST = {"retry_backoff": 0.01, "progress": False}


def reward_if_echo(sample, item, trace_id):
    return 1.0 if "echo" in sample.output_text else 0.0


@pytest.fixture
def endpoint():
    log = EndpointLog()
    with serve_in_background(fake_tool_app(log)) as base_url:
        yield base_url, log


def test_parallel_calls_of_one_turn_reach_the_endpoint_together_and_are_all_recorded(endpoint):
    base_url, log = endpoint
    turn = [("sleep", {"seconds": 0.3})] * 3 + [("echo", {"text": "hi"})]
    policy = TurnsPolicy([turn])
    [trace] = run_rollouts_sync(
        [item()], policy, tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    assert log.max_in_flight >= 3  # the sleeps were all open at the endpoint at once
    assert trace.status == "completed" and trace.reward == 1.0
    assert trace.sample.output_text == "slept 0.3 | slept 0.3 | slept 0.3 | echo: hi"
    assert [t.function.name for t in trace.sample.output_tools] == ["sleep"] * 3 + ["echo"]
    kinds = [s.span_data.type for s in trace.spans]
    assert kinds == ["generation", *["function"] * 4, "generation"]
    # The model saw every call before any output, in the Responses API's order.
    last = policy.seen[-1]
    assert [c.get("type", c.get("role")) for c in last] == [
        "user",
        *["function_call"] * 4,
        *["function_call_output"] * 4,
    ]
    # Wire format: one trace_id for the whole rollout, the dataset line as `item`.
    assert {c.trace_id for c in log.calls} == {trace.trace_id}
    assert all(c.item["task_id"] == "t1" for c in log.calls)


def test_a_turns_call_spans_are_in_the_order_asked_not_the_order_answered(endpoint):
    base_url, _ = endpoint
    turn = [("sleep", {"seconds": 0.3}), ("echo", {"text": "first to answer"})]
    [trace] = run_rollouts_sync(
        [item()], TurnsPolicy([turn]), tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    calls = [s for s in trace.spans if s.span_data.type == "function"]
    assert [s.span_data.name for s in calls] == ["sleep", "echo"]
    assert calls[1].ended_at < calls[0].ended_at  # the echo did answer first
    assert [s.span_id for s in trace.spans] == [f"span_{n:03d}" for n in range(4)]


def test_each_item_and_repeat_gets_a_fresh_trace_id(endpoint):
    base_url, log = endpoint
    policy = TurnsPolicy([[("echo", {"text": "a"})], [("echo", {"text": "b"})]])
    traces = run_rollouts_sync(
        [item("t1"), item("t2")],
        policy,
        tools=job_tools(base_url),
        grader=reward_if_echo,
        repeats=3,
        **FAST,
    )
    assert [(t.item_id, t.repeat) for t in traces] == [
        (i, r) for i in ("t1", "t2") for r in range(3)
    ]
    assert len({t.trace_id for t in traces}) == 6
    per_trace = {}
    for call in log.calls:
        per_trace.setdefault(call.trace_id, []).append(call.call_id)
    assert all(ids == ["call_0_0", "call_1_0"] for ids in per_trace.values())
    assert set(per_trace) == {t.trace_id for t in traces}


def test_5xx_is_retried_then_succeeds(endpoint):
    base_url, log = endpoint
    policy = TurnsPolicy([[("flaky", {"fail_times": 2})]])
    [trace] = run_rollouts_sync(
        [item()], policy, tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    assert trace.status == "completed"
    [call] = trace.function_spans
    assert call.span_data.attempts == 3 and call.span_data.output == "ok after 2 failures"
    assert len(log.calls) == 3


def test_5xx_four_times_discards_the_rollout_without_a_score(endpoint):
    base_url, log = endpoint
    policy = TurnsPolicy([[("echo", {"text": "x"}), ("broken", {})], [("echo", {"text": "y"})]])
    [trace] = run_rollouts_sync(
        [item()], policy, tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    assert trace.status == "discarded" and trace.reward is None
    assert "HTTP 500 after 3 retries" in trace.error
    broken = [s for s in trace.function_spans if s.span_data.name == "broken"]
    assert broken[0].span_data.attempts == 4
    assert sum(c.name == "broken" for c in log.calls) == 4
    assert not any(c.arguments == '{"text": "y"}' for c in log.calls)  # the rollout stopped


def test_4xx_body_is_shown_to_the_model(endpoint):
    base_url, _ = endpoint
    policy = TurnsPolicy([[("refuse", {})]])
    [trace] = run_rollouts_sync(
        [item()], policy, tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    assert trace.status == "completed" and trace.reward == 0.0
    body = json.loads(trace.sample.output_text)
    assert body["error"]["message"] == "refused: ask differently"
    [call] = trace.function_spans
    assert call.span_data.status_code == 400 and call.span_data.attempts == 1


def test_unknown_tool_and_bad_arguments_go_back_to_the_model(endpoint):
    base_url, log = endpoint

    class Sloppy(TurnsPolicy):
        async def next_turn(self, conversation, tools, *, trace_id):
            if len(conversation) == 1:
                from rftkit.rollouts import PolicyTurn, ToolCallRequest

                return PolicyTurn(
                    tool_calls=[
                        ToolCallRequest("call_0_0", "nope", "{}"),
                        ToolCallRequest("call_0_1", "echo", "[1, 2]"),
                    ]
                )
            return await super().next_turn(conversation, tools, trace_id=trace_id)

    [trace] = run_rollouts_sync(
        [item()], Sloppy([]), tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    assert trace.status == "completed"
    assert "no tool named 'nope'" in trace.sample.output_text
    assert "must encode a JSON object" in trace.sample.output_text
    assert log.calls == []


def test_per_call_timeout_retries_then_discards(endpoint):
    base_url, _ = endpoint
    policy = TurnsPolicy([[("sleep", {"seconds": 2})]])
    [trace] = run_rollouts_sync(
        [item()], policy, tools=job_tools(base_url), grader=reward_if_echo, call_timeout=0.1, **FAST
    )
    assert trace.status == "discarded"
    assert "no answer within 0.1 s after 3 retries" in trace.error


def test_rollout_timeout_ends_the_rollout_unscored(endpoint):
    base_url, _ = endpoint
    policy = TurnsPolicy([[("sleep", {"seconds": 5})]])
    [trace] = run_rollouts_sync(
        [item()],
        policy,
        tools=job_tools(base_url),
        grader=reward_if_echo,
        rollout_timeout=0.3,
        **FAST,
    )
    assert trace.status == "timeout" and trace.reward is None
    assert trace.error == "rollout exceeded 0.3 s"


def test_max_episode_steps_ends_a_rollout_that_keeps_calling_tools(endpoint):
    base_url, log = endpoint
    policy = TurnsPolicy([[("echo", {"text": str(i)})] for i in range(10)])
    [trace] = run_rollouts_sync(
        [item()],
        policy,
        tools=job_tools(base_url),
        grader=reward_if_echo,
        max_episode_steps=3,
        **FAST,
    )
    assert trace.status == "max_steps"
    assert trace.reward == 0.0  # graded on its (empty) final text, like the trainer
    assert sum(s.span_data.type == "generation" for s in trace.spans) == 3
    assert len(log.calls) == 2  # the calls of the last allowed turn are not run


def test_concurrency_limit_bounds_rollouts_in_flight(endpoint):
    base_url, log = endpoint
    policy = TurnsPolicy([[("sleep", {"seconds": 0.1})]])
    items = [item(f"t{i}") for i in range(12)]
    traces = run_rollouts_sync(
        items, policy, tools=job_tools(base_url), grader=reward_if_echo, concurrency=3, **FAST
    )
    assert all(t.status == "completed" for t in traces)
    assert log.max_traces_in_flight <= 3


def test_per_tool_urls_work_as_well_as_one_dispatch_url(endpoint):
    base_url, log = endpoint
    tools = [
        {
            "name": "echo",
            "server_url": f"{base_url}/tools/echo",
            "headers": {"Authorization": f"Bearer {TOKEN}"},
        }
    ]
    [trace] = run_rollouts_sync(
        [item()],
        TurnsPolicy([[("echo", {"text": "z"})]]),
        tools=tools,
        grader=reward_if_echo,
        **FAST,
    )
    assert trace.sample.output_text == "echo: z" and len(log.calls) == 1


def test_endpoint_grader_scores_and_a_failing_one_discards(endpoint):
    base_url, _ = endpoint
    policy = TurnsPolicy([[("echo", {"text": "z"})]])
    good = {"type": "endpoint", "url": f"{base_url}/grade"}
    bad = {"type": "endpoint", "name": "flaky grader", "url": f"{base_url}/grade-broken"}
    [ok] = run_rollouts_sync([item()], policy, tools=job_tools(base_url), grader=good, **FAST)
    [gone] = run_rollouts_sync([item()], policy, tools=job_tools(base_url), grader=bad, **FAST)
    assert ok.status == "completed" and ok.reward == 1.0
    assert gone.status == "discarded" and gone.reward is None
    assert gone.error == "flaky grader: HTTP 502 after 3 retries"


def test_async_grader_function_is_awaited(endpoint):
    base_url, _ = endpoint

    async def half(sample, item, trace_id):
        return 0.5

    [trace] = run_rollouts_sync(
        [item()], TurnsPolicy([]), tools=job_tools(base_url), grader=half, **FAST
    )
    assert trace.reward == 0.5


def test_bearer_token_is_sent_but_never_recorded(endpoint, tmp_path):
    base_url, log = endpoint
    policy = TurnsPolicy([[("echo", {"text": "a"}), ("broken", {})]])
    traces = run_rollouts_sync(
        [item()], policy, tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    assert log.calls  # the endpoint accepted the token
    saved = save_traces(traces, tmp_path / "traces.jsonl").read_text()
    for text in (saved, repr(traces), str(traces[0].error)):
        assert TOKEN not in text
    unauthorised = TurnsPolicy([[("echo", {"text": "a"})]])
    [no_token] = run_rollouts_sync(
        [item()], unauthorised, tools=job_tools(base_url, token=None), grader=reward_if_echo, **FAST
    )
    assert no_token.function_spans[0].span_data.status_code == 401
    assert "missing or wrong bearer token" in no_token.sample.output_text


def test_cancellation_leaves_no_tasks_or_connections(endpoint):
    base_url, log = endpoint
    port = int(base_url.rsplit(":", 1)[1])
    policy = TurnsPolicy([[("sleep", {"seconds": 30}), ("sleep", {"seconds": 30})]])

    def open_client_connections() -> int:
        return sum(
            1
            for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
        )

    async def scenario() -> tuple[int, int, set]:
        run = asyncio.create_task(
            run_rollouts(
                [item(f"t{i}") for i in range(5)],
                policy,
                tools=job_tools(base_url),
                grader=reward_if_echo,
                **FAST,
            )
        )
        while len(log.calls) < 10:
            await asyncio.sleep(0.02)
        during = open_client_connections()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        await asyncio.sleep(0.05)
        return during, open_client_connections(), asyncio.all_tasks() - {asyncio.current_task()}

    during, after, leftover = asyncio.run(scenario())
    assert during == 10
    assert after == 0
    assert leftover == set()


def test_traces_round_trip_through_jsonl(endpoint, tmp_path):
    base_url, _ = endpoint
    policy = TurnsPolicy([[("echo", {"text": "a"}), ("flaky", {"fail_times": 1})]])
    traces = run_rollouts_sync(
        [item("t1"), item("t2")],
        policy,
        tools=job_tools(base_url),
        grader=reward_if_echo,
        repeats=2,
        **FAST,
    )
    path = save_traces(traces, tmp_path / "runs" / "traces.jsonl")
    assert load_traces(path) == traces
    assert len(path.read_text().splitlines()) == 4


def test_bad_items_are_refused_before_any_request(endpoint):
    base_url, log = endpoint
    with pytest.raises(ValueError, match=r"items\[1\]: item 'bad'.*'messages'"):
        run_rollouts_sync(
            [item(), {"task_id": "bad"}],
            TurnsPolicy([]),
            tools=job_tools(base_url),
            grader=reward_if_echo,
            **FAST,
        )
    with pytest.raises(ValueError, match=r"items\[0\]: item 't9': messages\[1\] needs 'role'"):
        run_rollouts_sync(
            [{"task_id": "t9", "messages": [{"role": "user", "content": "q"}, {"role": "user"}]}],
            TurnsPolicy([]),
            tools=job_tools(base_url),
            grader=reward_if_echo,
            **FAST,
        )
    assert log.calls == []


def test_connection_refused_counts_as_a_failure_to_retry():
    tools = [{"name": "echo", "server_url": "http://127.0.0.1:9/call"}]
    [trace] = run_rollouts_sync(
        [item()], TurnsPolicy([[("echo", {})]]), tools=tools, grader=reward_if_echo, **FAST
    )
    assert trace.status == "discarded" and "ConnectError" in trace.error


def test_traces_frame_has_one_row_per_rollout_with_unscored_as_nan(endpoint):
    base_url, _ = endpoint
    ok = TurnsPolicy([[("echo", {"text": "a"}), ("flaky", {"fail_times": 1})]])
    bad = TurnsPolicy([[("broken", {})]])
    traces = run_rollouts_sync(
        [item("t1")], ok, tools=job_tools(base_url), grader=reward_if_echo, repeats=2, **FAST
    )
    traces += run_rollouts_sync(
        [item("t2")], bad, tools=job_tools(base_url), grader=reward_if_echo, **FAST
    )
    frame = traces_frame(traces)
    assert list(frame["item_id"]) == ["t1", "t1", "t2"]
    assert list(frame["status"]) == ["completed", "completed", "discarded"]
    assert frame["reward"].iloc[:2].tolist() == [1.0, 1.0] and frame["reward"].isna().iloc[2]
    assert frame["tool_calls"].tolist() == [2, 2, 1]
    assert frame["turns"].tolist() == [2, 2, 1]
    assert frame["tool_errors"].tolist() == [0, 0, 1]
    assert (frame["latency_s"] >= frame["tool_latency_s"] / 2).all()
    spans = spans_frame(traces)
    assert len(spans) == 2 * 4 + 2
    flaky = spans[spans["name"] == "flaky"]
    assert flaky["attempts"].tolist() == [2, 2]


def test_load_traces_names_file_line_and_field(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text(
        '{"trace_id": "trace_1", "policy": "p", "status": "completed",'
        ' "started_at": 0, "ended_at": 1}\n{"trace_id": "trace_2"}\n'
    )
    with pytest.raises(ValueError, match=r"traces.jsonl, line 2, field policy: Field required"):
        load_traces(path)


def test_sync_wrapper_works_where_a_loop_is_already_running(endpoint):
    base_url, _ = endpoint

    async def notebook_cell():  # Jupyter runs cells inside a running event loop
        return run_rollouts_sync(
            [item()],
            TurnsPolicy([[("echo", {"text": "nb"})]]),
            tools=job_tools(base_url),
            grader=reward_if_echo,
            **FAST,
        )

    [trace] = asyncio.run(notebook_cell())
    assert trace.sample.output_text == "echo: nb"


def test_a_bad_tools_entry_is_named_without_echoing_its_token():
    bad = [
        {"server_url": "http://127.0.0.1:9/call", "headers": {"Authorization": f"Bearer {TOKEN}"}}
    ]
    with pytest.raises(ValueError, match=r"tools\[0\]: name: Field required") as caught:
        run_rollouts_sync([item()], TurnsPolicy([]), tools=bad, grader=reward_if_echo, **FAST)
    assert TOKEN not in str(caught.value) and caught.value.__cause__ is None
