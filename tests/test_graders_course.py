"""The course's graders: the naive one is gameable; the course one gives graded, fair credit."""

import inspect

import pytest

from rftkit.graders import run_grader, validate_grader
from rftkit.graders.course import course_grader, naive_grader
from rftkit.graders.sources import answer_closeness, tool_efficiency
from rftkit.protocol import Sample, ToolCall
from rftkit.world import generate_tasks, generate_world

MONEY = {
    "reference_answer": "911.4",
    "reference_value": 911.4,
    "unit": "USD millions",
    "task_type": "lookup",
    "tier": 1,
    "min_tool_calls": 2,
}
COMPANY = {
    **MONEY,
    "reference_answer": "Valigard Freight",
    "reference_value": 110.7,
    "unit": "company",
}


def calls(n):
    return [
        ToolCall(id=f"c{i}", function={"name": "read_file", "arguments": "{}"}) for i in range(n)
    ]


def test_configs_validate_and_embed_real_module_sources():
    assert validate_grader(naive_grader()) == naive_grader()
    grader = validate_grader(course_grader())
    assert grader["graders"]["correct"]["source"] == inspect.getsource(answer_closeness)
    assert grader["graders"]["tools"]["source"] == inspect.getsource(tool_efficiency)


@pytest.mark.parametrize(
    ("text", "n_calls", "reward"),
    [
        ("911.4", 2, 1.0),
        ("Answer: 911.4 USD millions", 2, 1.0),
        ('{"answer": "911.4"}', 2, 1.0),
        ("In 2024-Q2 net income was 911.4", 2, 1.0),  # the quarter label is not a second number
        ("911.4", 4, 0.75),  # twice the needed calls: the efficiency factor drops
        ("911.4", 0, 0.5),  # right but without evidence: a lucky guess earns half
        ("912", 2, 0.5),  # within 1 %
        ("911.45", 2, 0.5),  # does not round to the reference
        ("911400", 2, 0.25),  # right digits, wrong scale
        ("-911.4", 2, 0.0),
        ("either 911.4 or 912", 2, 0.0),  # hedged
        ("784.2, 911.4, 1203.0", 2, 0.0),  # every number listed
        ("", 2, 0.0),
    ],
)
def test_course_grader_partial_credit(text, n_calls, reward):
    result = run_grader(course_grader(), Sample.from_text(text, tools=calls(n_calls)), MONEY)
    assert result.ok, result.metadata.error_details
    assert result.reward == pytest.approx(reward)


@pytest.mark.parametrize(
    ("text", "credit"),
    [
        ("Valigard Freight", 1.0),
        ("valigard freight.", 1.0),
        ("It was Valigard Freight", 0.5),
        ("Valigard Freight or Ulmewick Machines", 0.0),
        ("Ulmewick Machines", 0.0),
    ],
)
def test_company_answers(text, credit):
    result = run_grader(course_grader(), Sample.from_text(text, tools=calls(2)), COMPANY)
    assert result.sub_rewards["correct"] == credit


@pytest.mark.parametrize("text", ["either 911.4 or 912", "784.2, 911.4, 1203.0", "911.45"])
def test_naive_grader_is_fooled_where_the_course_grader_is_not(text):
    assert run_grader(naive_grader(), text, MONEY).reward == 1.0
    assert run_grader(course_grader(), Sample.from_text(text, tools=calls(2)), MONEY).reward < 1.0


def test_every_world_answer_scores_one_on_its_own_reference():
    world = generate_world(seed=0)
    for task in generate_tasks(world, seed=0, n=20):
        item = {
            "reference_answer": task.answer,
            "reference_value": task.answer_value,
            "unit": task.unit,
            "min_tool_calls": task.min_tool_calls,
        }
        sample = Sample.from_text(task.answer, tools=calls(task.min_tool_calls))
        result = run_grader(course_grader(), sample, item)
        assert result.reward == 1.0, (task.id, task.answer, result.sub_rewards)
