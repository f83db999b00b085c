"""The latency reward: right first, then fast, with latency counted as the trainer sees it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.course.rewards import latency_grader
from rftkit.graders import run_grader, validate_grader
from rftkit.graders.sources import latency_efficiency
from rftkit.protocol import Sample, ToolCall

ITEM = {
    "reference_answer": "911.4",
    "reference_value": 911.4,
    "unit": "USD millions",
    "task_type": "difference",
    "tier": 1,
    "min_tool_calls": 2,
}


def calls(n):
    return [
        ToolCall(id=f"c{i}", function={"name": "read_file", "arguments": "{}"}) for i in range(n)
    ]


def sample(text="911.4", n_calls=2, **trajectory):
    return Sample.from_text(text, calls(n_calls), trajectory=trajectory)


def latency(n_calls=2, **trajectory):
    return latency_efficiency.grade(sample(n_calls=n_calls, **trajectory).model_dump(), ITEM)


def test_the_fastest_route_scores_one_and_each_kind_of_delay_costs():
    fastest = latency(turns=2, reasoning_tokens=0)  # both reads in one turn, then the answer
    assert fastest == 1.0
    sequential = latency(turns=3, reasoning_tokens=0)
    assert sequential == pytest.approx(3 / 4)  # (2 + 0.5 * 2) / (3 + 0.5 * 2)
    assert latency(n_calls=3, turns=2) < fastest  # one call more in the same turn
    assert latency(turns=2, reasoning_tokens=16) == pytest.approx(3 / 4)  # 16 tokens = a turn
    assert latency(turns=3, reasoning_tokens=32) < sequential


def test_fewer_calls_than_the_task_needs_is_not_fast_but_unsupported():
    assert latency(n_calls=1, turns=2) == 0.25  # as tool_efficiency: linear to 0 at no calls
    assert latency(n_calls=0, turns=1) == 0.0


def test_without_a_trajectory_every_call_is_its_own_turn():
    """OpenAI's service sends no ``trajectory``: the term falls back to calls only."""
    bare = Sample.from_text("911.4", calls(2)).model_dump()
    assert latency_efficiency.grade(bare, ITEM) == pytest.approx(3 / 4)


@pytest.mark.parametrize(
    "trajectory",
    ["3 turns", ["turns", 2], {"turns": "many"}, {"turns": -5, "reasoning_tokens": float("nan")},
     {"turns": True}, {"reasoning_tokens": 10**400}, {"turns": float("-inf")}, None],  # fmt: skip
)
def test_a_forged_trajectory_gets_a_bounded_score(trajectory):
    forged = Sample.from_text("911.4", calls(2)).model_dump() | {"trajectory": trajectory}
    assert 0.0 <= latency_efficiency.grade(forged, ITEM) <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 40),
    st.dictionaries(
        st.sampled_from(["turns", "reasoning_tokens", "parallel_turns", "other"]),
        st.one_of(st.integers(-(10**6), 10**12), st.floats(), st.text(max_size=5), st.none()),
    ),
)
def test_the_score_is_always_between_zero_and_one(n_calls, trajectory):
    graded = Sample.from_text("x", calls(n_calls)).model_dump() | {"trajectory": trajectory}
    assert 0.0 <= latency_efficiency.grade(graded, ITEM) <= 1.0


def test_through_the_grader_engine_right_comes_first_then_fast():
    grader = validate_grader(latency_grader())
    fast = run_grader(grader, sample(turns=2, reasoning_tokens=0), ITEM)
    slow = run_grader(grader, sample(n_calls=12, turns=13, reasoning_tokens=400), ITEM)
    rounded = run_grader(grader, sample("911", turns=2, reasoning_tokens=0), ITEM)
    wrong = run_grader(grader, sample("912.0", turns=2, reasoning_tokens=0), ITEM)
    assert fast.reward == 1.0 and fast.sub_rewards["latency"] == 1.0
    assert 0.6 <= slow.reward < fast.reward  # the slowest right answer keeps 0.6
    assert rounded.reward <= 0.5 < slow.reward  # any partly right answer is below it
    assert wrong.reward == 0.0
