"""Trajectory grading from the call log, beside the dict grader on the same rollouts."""

import asyncio

import pytest

from rftkit.course_session import course_session
from rftkit.graders import run_grader_many
from rftkit.graders.course import course_grader
from rftkit.graders.trajectory import TrajectoryGrader, score_trajectory
from rftkit.protocol import GraderRequest, Sample
from rftkit.rollouts import run_rollouts_sync
from rftkit.rollouts.scripted import ScriptedPolicy

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
