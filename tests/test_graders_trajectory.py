"""Trajectory grading from the call log, beside the dict grader on the same rollouts."""

import asyncio
import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.course.grader import course_grader
from rftkit.course.scripted import ScriptedPolicy
from rftkit.course.session import course_session
from rftkit.graders import run_grader, run_grader_many, validate_grader
from rftkit.graders.server import create_grader_app
from rftkit.graders.trajectory import (
    TrajectoryGrader,
    calls_from_sample,
    create_trajectory_grader_app,
    last_turn_sample,
    score_trajectory,
)
from rftkit.protocol import GraderRequest, Sample
from rftkit.rollouts import run_rollouts_sync
from rftkit.serving import serve_in_background

ITEM = {"reference_answer": "14.3", "unit": "USD millions", "min_tool_calls": 1,
        "messages": [{"role": "user", "content": "Operating income of X in 2025-Q2?"}]}  # fmt: skip
READ = {"tool": "read_file", "arguments": {"path": "reports/x/2025-Q2.md"}, "status": 200}


@pytest.mark.parametrize(
    ("answer", "calls", "expected"),
    [
        ("14.3", [READ], 1.0),  # right, evidence read, the minimum number of calls
        ("14.3", [READ, READ], 0.8 + 0.2 * 0.5 * 0.5),  # twice the calls, one exact repeat
        ("14.3", [{**READ, "status": 404}], 0.5 * 1.0),  # the read failed: no evidence
        ("14.3", [], 0.5 * (0.8 + 0.2 * 0.0)),  # a guess: no evidence, no calls
        ("15.0", [READ], 0.0),  # wrong stays 0 however well it was reached
    ],
)
def test_the_process_terms_rank_right_answers_and_leave_wrong_ones_at_zero(
    answer, calls, expected
):
    score = score_trajectory(calls, Sample.from_text(answer), ITEM)
    assert score.reward == pytest.approx(expected)


def test_pathological_answers_score_without_raising():
    for answer in ("[" * 5000, "", "9" * 100_000, "{\"answer\": [[[]]]}"):
        assert score_trajectory([READ], Sample(output_text=answer), ITEM).reward == 0.0


@pytest.fixture(scope="module")
def rollouts():
    """Efficient and wasteful scripted rollouts on world 0, the tool service still holding logs."""
    with course_session(seed=0, style="compact", n=6) as course:
        traces = {
            style: run_rollouts_sync(
                course.items, ScriptedPolicy(course.items, style), tools=course.job_tools,
                grader=course_grader(), progress=False,
            )  # fmt: skip
            for style in ("efficient", "wasteful")
        }
        grader = TrajectoryGrader(course.base_url, course.job_tools[0].headers)
        yield course, traces, grader


def last_turn_only(sample: Sample) -> Sample:
    """The sample as the hosted service may send it: only the final turn's tool calls."""
    return sample.model_copy(update={"output_tools": sample.output_tools[-1:]})


def test_the_last_turn_sample_keeps_only_the_last_calling_turns_calls(rollouts):
    _, traces, _ = rollouts
    for trace in traces["efficient"] + traces["wasteful"]:
        kept = last_turn_sample(trace).output_tools
        last_turn = trace.sample.output_tools[-1].id.split("-")[0]  # the script's ids: t<turn>-<n>
        assert kept and [c.id.split("-")[0] for c in kept] == [last_turn] * len(kept)
        assert kept == [c for c in trace.sample.output_tools if c.id.startswith(f"{last_turn}-")]
    parallel = [t for t in traces["efficient"] if len(t.spans) - t.tool_calls == 2 < t.tool_calls]
    assert parallel, "the efficient script reads several files in one turn on some item"
    assert all(len(last_turn_sample(t).output_tools) == t.tool_calls for t in parallel)


def test_the_trajectory_grader_sees_every_call_the_dict_grader_misses(rollouts):
    course, traces, grader = rollouts
    items = {i["task_id"]: i for i in course.items}
    rewards = {}
    for style in ("efficient", "wasteful"):
        requests = [
            GraderRequest(sample=last_turn_only(t.sample), item=items[t.item_id],
                          trace_id=t.trace_id)
            for t in traces[style]
        ]  # fmt: skip
        scores = asyncio.run(_score_all(grader, requests))
        assert all(s.source == "tool_service" for s in scores)
        assert [s.calls for s in scores] == [t.tool_calls for t in traces[style]]
        dict_rewards = [r.reward for r in run_grader_many(
            course_grader(), [(r.sample, r.item) for r in requests])]  # fmt: skip
        rewards[style] = [s.reward for s in scores], dict_rewards
    trajectory, last_turn = rewards["efficient"]
    assert trajectory == [1.0] * len(trajectory)  # right, evidence read, the minimum of calls
    assert min(last_turn) < 1.0  # one turn's calls hide the evidence a multi-turn rollout read
    wasteful, _ = rewards["wasteful"]
    assert all(w < 1.0 for w in wasteful)  # every extra or repeated call is seen and costs


def test_a_missing_log_falls_back_to_the_sample_and_says_so(rollouts):
    course, traces, grader = rollouts
    trace = traces["efficient"][0]
    item = next(i for i in course.items if i["task_id"] == trace.item_id)
    request = GraderRequest(sample=trace.sample, item=item, trace_id="never-seen")
    score = asyncio.run(grader.score(request))
    assert score.source == "sample" and score.calls == trace.tool_calls
    assert "Bearer" not in repr(grader)


async def _score_all(grader, requests):
    return await asyncio.gather(*(grader.score(r) for r in requests))


def test_the_lookup_tools_are_the_projects_own():
    search_docs = {"tool": "search_docs", "arguments": {"query": "refund"}, "status": 200}
    answer = Sample.from_text("14.3")
    course_rule = score_trajectory([search_docs], answer, ITEM)
    project_rule = score_trajectory([search_docs], answer, ITEM, lookups={"search_docs"})
    assert (course_rule.evidence, project_rule.evidence) == (0.5, 1.0)


def test_a_correctness_function_that_fails_gives_no_credit_and_never_raises():
    def broken(sample, item):
        return sample["no such key"]

    for correct in (broken, lambda s, i: float("nan"), lambda s, i: 7.0):
        score = score_trajectory([READ], Sample.from_text("14.3"), ITEM, correct=correct)
        assert score.correct in (0.0, 1.0)  # 7 is clamped to 1; the others are no credit
    assert score_trajectory([READ], Sample.from_text("x"), ITEM, correct=broken).reward == 0.0


def calls_from_spans(trace):
    """The calls as the rollout engine saw them: its own spans, not the tool service's log."""
    return [
        {"tool": s.span_data.name, "arguments": json.loads(s.span_data.input),
         "status": s.span_data.status_code}
        for s in trace.function_spans
    ]  # fmt: skip


GRADER_TOKEN = "grader-token-for-tests-only-9876"


@pytest.fixture(scope="module")
def trajectory_endpoint(rollouts):
    course, _, _ = rollouts
    app = create_trajectory_grader_app(course.base_url, course.job_tools[0].headers,
                                       token=GRADER_TOKEN)  # fmt: skip
    with serve_in_background(app) as url:
        yield {"type": "endpoint", "name": "trajectory", "url": f"{url}/grade",
               "headers": {"Authorization": f"Bearer {GRADER_TOKEN}"}}  # fmt: skip


def test_the_served_grader_scores_over_http_what_score_trajectory_gives(
    rollouts, trajectory_endpoint
):
    course, traces, _ = rollouts
    items = {i["task_id"]: i for i in course.items}
    validate_grader(trajectory_endpoint)
    differs_from_the_sample = 0
    for style in ("efficient", "wasteful"):
        for trace in traces[style]:
            item, sample = items[trace.item_id], last_turn_only(trace.sample)
            result = run_grader(trajectory_endpoint, sample, item, trace_id=trace.trace_id)
            expected = score_trajectory(calls_from_spans(trace), sample, item)
            assert not any(value is True for _, value in result.metadata.errors)
            assert result.reward == pytest.approx(expected.reward), (style, trace.item_id)
            from_sample = score_trajectory(calls_from_sample(sample), sample, item, "sample")
            differs_from_the_sample += from_sample.reward != pytest.approx(expected.reward)
    assert differs_from_the_sample > 0  # so the scores above could only come from the log


def test_the_served_grader_refuses_a_wrong_token_and_the_engine_flags_it(
    rollouts, trajectory_endpoint
):
    course, traces, _ = rollouts
    trace = traces["efficient"][0]
    item = next(i for i in course.items if i["task_id"] == trace.item_id)
    wrong = {**trajectory_endpoint, "headers": {"Authorization": "Bearer not-the-token"}}
    result = run_grader(wrong, trace.sample, item, trace_id=trace.trace_id)
    assert result.reward == 0.0 and result.metadata.errors.other_error
    assert GRADER_TOKEN not in str(result.model_dump())
    response = httpx.get(trajectory_endpoint["url"].removesuffix("/grade") + "/healthz")
    assert response.status_code == 401


def test_a_trace_id_cannot_reach_another_route_of_the_tool_service(rollouts, trajectory_endpoint):
    course, traces, _ = rollouts
    trace = traces["wasteful"][0]
    item = next(i for i in course.items if i["task_id"] == trace.item_id)
    sample = last_turn_only(trace.sample)
    for hostile in ("../healthz", f"{trace.trace_id}/../{trace.trace_id}", "%2e%2e/tools"):
        result = run_grader(trajectory_endpoint, sample, item, trace_id=hostile)
        fallback = score_trajectory(calls_from_sample(sample), sample, item, "sample")
        assert result.reward == pytest.approx(fallback.reward), hostile


def test_a_scorer_that_fails_scores_zero_with_a_flag_and_the_server_keeps_answering():
    async def raises(request):
        raise RuntimeError("the scorer's own bug")

    async def not_finite(request):
        return float("nan")

    async def fine(request):
        return 0.25

    for scorer, reward, flagged in ((raises, 0.0, True), (not_finite, 0.0, True),
                                    (fine, 0.25, False)):  # fmt: skip
        with serve_in_background(create_grader_app(scorer=scorer, token=GRADER_TOKEN)) as url:
            config = {"type": "endpoint", "name": "s", "url": f"{url}/grade",
                      "headers": {"Authorization": f"Bearer {GRADER_TOKEN}"}}  # fmt: skip
            direct = httpx.post(f"{url}/grade", json={"sample": {"output_text": "1"},
                                "trace_id": "t"}, headers=config["headers"])  # fmt: skip
            assert direct.status_code == 200
            assert direct.json()["errors"] == (["other_error"] if flagged else [])
            assert run_grader(config, "1", {}).reward == reward


def test_the_server_takes_exactly_one_of_a_config_and_a_scorer():
    async def scorer(request):
        return 1.0

    with pytest.raises(ValueError, match="exactly one of grader"):
        create_grader_app()
    with pytest.raises(ValueError, match="exactly one of grader"):
        create_grader_app(course_grader(), scorer=scorer)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6),
                                                                       children, max_size=3),
    max_leaves=10,
)  # fmt: skip
_CALL = st.fixed_dictionaries(
    {}, optional={"tool": _JSON | st.sampled_from(["read_file", "search"]), "arguments": _JSON,
                  "status": _JSON | st.sampled_from([200, 404, 500])},
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(calls=st.lists(_CALL | _JSON, max_size=8), answer=st.text(max_size=30))
def test_any_call_log_the_service_could_send_scores_in_range_without_raising(calls, answer):
    score = score_trajectory(calls, Sample.from_text(answer), ITEM)
    assert 0.0 <= score.reward <= 1.0 and score.calls <= len(calls)


def test_a_body_over_the_limit_is_refused_before_the_scorer_runs(trajectory_endpoint):
    body = b'{"trace_id": "t", "sample": {"output_text": "' + b"9" * 1_100_000 + b'"}}'
    response = httpx.post(trajectory_endpoint["url"], content=body,
                          headers=trajectory_endpoint["headers"])  # fmt: skip
    assert response.status_code == 413


def test_support_judges_the_logged_calls_as_the_supported_dict_grader_does():
    item = {
        "messages": [{"role": "user", "content": "Which company had the higher operating income"
                      " in 2024-Q1: Garlia Digital or Peliwick Freight?"}],
        "reference_answer": "Garlia Digital", "reference_value": 401.2, "unit": "company",
        "task_type": "comparison", "min_tool_calls": 2,
        "evidence": ["reports/garlia-digital/2024-Q1.md", "reports/peliwick-freight/2024-Q1.md"],
    }  # fmt: skip
    reads = [
        {"tool": "read_file", "arguments": {"path": path}, "status": 200}
        for path in item["evidence"]
    ]
    lucky = [*reads, {"tool": "calculator", "arguments": {"expression": "401.2 - 536.2"},
                      "status": 200}]  # fmt: skip
    failed = [reads[0], {**reads[1], "status": 404}]  # the rival's report never opened
    sample = Sample.from_text("Garlia Digital", [])  # the hosted sample may hold no call at all
    for calls, plain, supported in ((reads, 1.0, 1.0), (lucky, 1.0, 0.5), (failed, 1.0, 0.5)):
        assert score_trajectory(calls, sample, item).evidence == plain
        assert score_trajectory(calls, sample, item, support=True).evidence == supported
