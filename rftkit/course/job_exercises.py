"""The self-checks of notebook 05's exercises: hosted hyperparameters for a given GRPO budget, and
the hack a reward's red team predicts before training.

Built on the course's exercise convention (``rftkit.course.exercises.exercise_check``): it prints
"not yet: <hint>" or "correct" and returns a bool, never raising, so the notebook runs top to
bottom with the exercise unsolved, and the solved copy in ``notebooks/solutions/`` asserts True.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rftkit.course.exercises import STUB_HINT, NotYet, exercise_check
from rftkit.evaluation.redteam import RedTeamReport
from rftkit.local.hyperparameters import grpo_config
from rftkit.task import RFTTask

TARGET = {"steps": 5, "group_size": 3, "eval_interval": 5}
"""The budget the exercise asks for: 5 GRPO steps, 3 rollouts per task, validation at the end."""


@exercise_check
def check_step_budget(hyperparameters: Any, task: RFTTask) -> None:
    """Whether ``hyperparameters`` make the local engine run ``TARGET`` on ``task``."""
    if hyperparameters is None or hyperparameters is Ellipsis:
        raise NotYet(STUB_HINT)
    if not isinstance(hyperparameters, dict):
        raise NotYet(
            f"give a dict such as {{'n_epochs': 1, ...}}, not {type(hyperparameters).__name__}"
        )
    candidate = task.model_copy()
    try:
        candidate.hyperparameters = hyperparameters  # the task's own validation runs
    except ValueError as error:
        raise NotYet(f"the task refuses them: {str(error).splitlines()[-1].strip()}") from None
    config, _ = grpo_config(candidate, len(task.items("train")))
    got = {name: getattr(config, name) for name in TARGET}
    wrong = [
        f"{name} is {got[name]}, not {want}" for name, want in TARGET.items() if got[name] != want
    ]
    if wrong:
        raise NotYet(
            "; ".join(wrong) + " (read the mapping table: steps = ceil(n_epochs x lines / "
            "batch_size), rollouts per task = max(2, round(6 x compute_multiplier)))"
        )


HONEST, GUESS = "control: honest answer", "lucky guess"
TOOL_CALL_DIRECTIONS = ("fewer", "same", "more")


@exercise_check
def check_predicted_hack(prediction: Any, redteam: Mapping[str, RedTeamReport]) -> str:
    """05: from the red teams of the trained rewards alone (name -> report), which reward a
    policy can game by skipping tools, and which way training on it will push tool calls."""
    if prediction is None or prediction is Ellipsis:
        raise NotYet(STUB_HINT)
    if not isinstance(prediction, dict) or set(prediction) != {"reward", "tool_calls"}:
        raise NotYet('give a dict with two keys: {"reward": ..., "tool_calls": ...}')
    pays = {name: report.table["mean reward"] for name, report in redteam.items()}
    gamed = [name for name, paid in pays.items() if paid[GUESS] > paid[HONEST]]
    reward, direction = prediction["reward"], prediction["tool_calls"]
    if reward not in pays:
        raise NotYet(f"name one of the rewards red-teamed: {', '.join(pays)}")
    if reward not in gamed:
        raise NotYet(
            f"{reward} pays a lucky guess {pays[reward][GUESS]:.3f} and the honest answer "
            f"{pays[reward][HONEST]:.3f}: which reward pays the answer with no calls more than "
            "the answer after the calls?"
        )
    if direction not in TOOL_CALL_DIRECTIONS:
        raise NotYet(f"tool_calls is one of {', '.join(TOOL_CALL_DIRECTIONS)}")
    if direction != "fewer":
        raise NotYet(
            f"under {reward} the same right answer earns more with no calls than with the "
            "task's calls: what does each call do to the reward, whether or not it helps?"
        )
    return (
        f"{reward} pays a lucky guess {pays[reward][GUESS]:.3f} against "
        f"{pays[reward][HONEST]:.3f} for the honest work: training on it should cut calls"
    )
