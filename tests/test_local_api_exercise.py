"""Notebook 05's exercise check: "not yet" with a hint for stubs and wrong answers, never an
exception; "correct" only for hyperparameters that give the asked-for GRPO budget."""

import pytest

from rftkit.course.job_exercises import TARGET, check_step_budget
from rftkit.local.hyperparameters import grpo_config


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "stub"),
        (..., "stub"),
        ([1, 2], "give a dict"),
        ({"learning_rate": 1}, "the task refuses them"),
        ({"n_epochs": "many"}, "the task refuses them"),
        ({"n_epochs": 1, "batch_size": 1}, "steps is 3, not 5"),
    ],
)
def test_wrong_answers_get_not_yet_and_a_hint(tiny_course_task, capsys, answer, hint):
    assert check_step_budget(answer, tiny_course_task.task) is False
    printed = capsys.readouterr().out
    assert printed.startswith("not yet: ") and hint in printed


def test_the_right_budget_is_correct(tiny_course_task, capsys):
    task = tiny_course_task.task  # 3 training lines: ceil(5 x 3 / 3) = 5 steps
    answer = {"n_epochs": 5, "batch_size": 3, "compute_multiplier": 0.5, "eval_interval": 5}
    assert check_step_budget(answer, task) is True
    assert capsys.readouterr().out == "correct\n"
    config, _ = grpo_config(task.model_copy(update={"hyperparameters": answer}), 3)
    assert {name: getattr(config, name) for name in TARGET} == TARGET
