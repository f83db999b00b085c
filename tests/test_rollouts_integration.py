"""Real rollouts over HTTP against the real tool service (``tools_service``) under uvicorn."""

import asyncio

import httpx
import pytest
from rollout_fakes import TOKEN, Unreliable

from rftkit.course.dataset import course_dataset
from rftkit.course.scripted import ScriptedPolicy
from rftkit.course.world import generate_world, write_corpus
from rftkit.rollouts import run_rollouts, run_rollouts_sync, traces_frame
from rftkit.serving import serve_in_background
from tools_service.app import create_app

FAST = {"retry_backoff": 0.01, "progress": False}


def exact_match(sample, item, trace_id):
    return float(sample.output_text.strip() == item["reference_answer"])


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("world") / "full"
    write_corpus(generate_world(seed=0), directory, style="full")
    return directory


@pytest.fixture(scope="module")
def items():
    return course_dataset(seed=0, n=10)


def job_tools(base_url):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    names = ("search", "list_files", "read_file", "calculator")
    return [{"name": n, "server_url": f"{base_url}/call", "headers": headers} for n in names]


@pytest.fixture(scope="module")
def service(world_dir):
    with serve_in_background(create_app(world_dir, token=TOKEN)) as base_url:
        yield base_url


def test_efficient_scripted_rollouts_make_exactly_the_minimum_calls(service, items):
    policy = ScriptedPolicy(items, "efficient")
    traces = run_rollouts_sync(items, policy, tools=job_tools(service), grader=exact_match, **FAST)
    frame = traces_frame(traces)
    assert frame["status"].eq("completed").all() and frame["reward"].eq(1.0).all()
    assert frame["tool_calls"].tolist() == [line["min_tool_calls"] for line in items]
    assert frame["tool_errors"].sum() == 0
    assert frame["policy"].eq("scripted-efficient").all()
    # The calculator really computed the reference answer at the real service.
    for trace, line in zip(traces, items, strict=True):
        outputs = [s.span_data.output for s in trace.function_spans]
        if line["task_type"] in ("difference", "growth"):
            assert line["reference_answer"] in outputs


def test_parallel_reads_of_one_turn_are_in_flight_together(service, items):
    comparison = [line for line in items if line["task_type"] == "comparison"][:1]
    policy = ScriptedPolicy(comparison, "efficient")
    [trace] = run_rollouts_sync(
        comparison, policy, tools=job_tools(service), grader=exact_match, **FAST
    )
    first, second = trace.function_spans
    assert trace.spans[0].span_data.tool_calls[1].function.name == "read_file"
    assert second.started_at < first.ended_at and first.started_at < second.ended_at
    # The service's own log for this rollout holds both calls under the same trace_id.
    log = httpx.get(
        f"{service}/traces/{trace.trace_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    assert sorted(c["call_id"] for c in log["calls"]) == ["t0-0", "t0-1"]
    assert all(c["status"] == 200 for c in log["calls"])


def test_wasteful_costs_more_calls_for_the_same_answers(service, items):
    lean = run_rollouts_sync(
        items,
        ScriptedPolicy(items, "efficient"),
        tools=job_tools(service),
        grader=exact_match,
        **FAST,
    )
    waste = run_rollouts_sync(
        items,
        ScriptedPolicy(items, "wasteful"),
        tools=job_tools(service),
        grader=exact_match,
        **FAST,
    )
    lean_f, waste_f = traces_frame(lean), traces_frame(waste)
    assert waste_f["reward"].eq(1.0).all()
    assert (waste_f["tool_calls"] >= 2 * lean_f["tool_calls"]).all()
    assert waste_f["tool_errors"].sum() == 0


def test_guessing_is_deterministic_per_item_whatever_the_order(service, items):
    def rewards(concurrency):
        policy = ScriptedPolicy(items, "guessing", seed=3)
        traces = run_rollouts_sync(
            items,
            policy,
            tools=job_tools(service),
            grader=exact_match,
            repeats=4,
            concurrency=concurrency,
            **FAST,
        )
        frame = traces_frame(traces)
        return frame.groupby("item_id")["reward"].apply(sorted).to_dict()

    first, second = rewards(1), rewards(40)
    assert first == second
    multi_hop = [line["task_id"] for line in items if line["tier"] == 3]
    assert all(first[t] == [0.0] * 4 for t in multi_hop)


def test_flaky_endpoint_is_retried_and_a_dead_tool_discards(world_dir, items):
    flaky = Unreliable(create_app(world_dir, token=TOKEN), fail_first=2)
    with serve_in_background(flaky) as base_url:
        traces = run_rollouts_sync(
            items[:3],
            ScriptedPolicy(items, "efficient"),
            tools=job_tools(base_url),
            grader=exact_match,
            **FAST,
        )
    assert all(t.status == "completed" and t.reward == 1.0 for t in traces)
    assert {s.span_data.attempts for t in traces for s in t.function_spans} == {3}

    dead = Unreliable(create_app(world_dir, token=TOKEN), always_fail={"calculator"})
    with serve_in_background(dead) as base_url:
        traces = run_rollouts_sync(
            items[:3],
            ScriptedPolicy(items, "efficient"),
            tools=job_tools(base_url),
            grader=exact_match,
            **FAST,
        )
    needs_calculator = [line["task_type"] == "difference" for line in items[:3]]
    assert [t.status == "discarded" for t in traces] == needs_calculator
    assert [t.reward is None for t in traces] == needs_calculator
    assert traces_frame(traces)["reward"].count() == needs_calculator.count(False)


def test_slow_endpoint_hits_call_and_rollout_timeouts(world_dir, items):
    slow = Unreliable(create_app(world_dir, token=TOKEN), delay=0.5)
    policy = ScriptedPolicy(items, "efficient")
    with serve_in_background(slow) as base_url:
        [per_call] = run_rollouts_sync(
            items[:1],
            policy,
            tools=job_tools(base_url),
            grader=exact_match,
            call_timeout=0.1,
            **FAST,
        )
        [per_rollout] = run_rollouts_sync(
            items[:1],
            policy,
            tools=job_tools(base_url),
            grader=exact_match,
            rollout_timeout=0.2,
            **FAST,
        )
    assert per_call.status == "discarded" and "no answer within 0.1 s" in per_call.error
    assert per_rollout.status == "timeout" and per_rollout.reward is None


def test_cancelling_a_run_against_the_service_leaves_no_tasks(world_dir, items):
    slow = Unreliable(create_app(world_dir, token=TOKEN), delay=5)

    async def scenario():
        run = asyncio.create_task(
            run_rollouts(
                items,
                ScriptedPolicy(items, "efficient"),
                tools=job_tools(base_url),
                grader=exact_match,
                **FAST,
            )
        )
        while sum(slow.attempts.values()) < len(items):
            await asyncio.sleep(0.02)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        return asyncio.all_tasks() - {asyncio.current_task()}

    with serve_in_background(slow) as base_url:
        assert asyncio.run(scenario()) == set()


def test_course_grader_scores_rollouts_through_the_local_grader_engine(service, items):
    from rftkit.course.grader import course_grader

    scored = {}
    for style in ("efficient", "wasteful"):
        traces = run_rollouts_sync(
            items,
            ScriptedPolicy(items, style),
            tools=job_tools(service),
            grader=course_grader(),
            **FAST,
        )
        scored[style] = traces_frame(traces)["reward"]
        assert all(t.grader_result["metadata"]["name"] == "course_grader" for t in traces)
    assert scored["efficient"].eq(1.0).all()
    # Same right answers, more calls: the efficiency factor min/calls lowers every reward.
    assert (scored["wasteful"] < 1.0).all() and (scored["wasteful"] > 0.5).all()


def test_grader_config_with_an_unresponsive_endpoint_discards(service, items):
    grader = {
        "type": "multi",
        "name": "with_endpoint",
        "calculate_output": "judge",
        "graders": {
            "judge": {"type": "endpoint", "name": "judge", "url": "http://127.0.0.1:9/grade"}
        },
    }
    [trace] = run_rollouts_sync(
        items[:1], ScriptedPolicy(items), tools=job_tools(service), grader=grader, **FAST
    )
    assert trace.status == "discarded" and trace.reward is None
    assert trace.error.startswith("grader with_endpoint:")


def test_baseline_of_the_guessing_policy_over_the_real_service(service, items):
    from rftkit.evaluation.baseline import bucket_of, run_baseline_sync

    policy = ScriptedPolicy(items, "guessing", seed=1)
    baseline = run_baseline_sync(
        items, policy, tools=job_tools(service), grader=exact_match, k=4, **FAST
    )
    assert baseline.policy == "scripted-guessing" and len(baseline.traces) == 40
    for item_id, rewards in baseline.rewards_by_item().items():
        row = baseline.per_item.set_index("item_id").loc[item_id]
        assert row["bucket"] == bucket_of(rewards) and row["mean"] == sum(rewards) / 4
    buckets = baseline.buckets()
    assert set(buckets["always_0"]) >= {i["task_id"] for i in items if i["tier"] == 3}
    kept = baseline.select(items)
    assert [line["task_id"] for line in kept] == buckets["learnable"]


def test_course_session_serves_the_world_with_a_token_no_repr_shows():
    from rftkit.course.session import course_session

    with course_session(seed=0, style="compact", n=5) as course:
        token = course.job_tools[0].headers["Authorization"]
        assert [t.name for t in course.job_tools] == [
            "search",
            "list_files",
            "read_file",
            "calculator",
        ]
        assert token not in repr(course) and token not in repr(course.job_tools)
        assert httpx.get(f"{course.base_url}/tools").status_code == 401
        assert [line["corpus_style"] for line in course.items] == ["compact"] * 5
        traces = run_rollouts_sync(
            course.items,
            ScriptedPolicy(course.items),
            tools=course.job_tools,
            grader=exact_match,
            **FAST,
        )
        assert [t.reward for t in traces] == [1.0] * 5
        assert [t.tool_calls for t in traces] == [i["min_tool_calls"] for i in course.items]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{course.base_url}/healthz", timeout=1)
