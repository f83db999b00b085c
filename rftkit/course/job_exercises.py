"""The self-check of notebook 05's exercise: hosted hyperparameters for a given GRPO budget.

Built on the course's exercise convention (``rftkit.course.exercises.exercise_check``): it prints
"not yet: <hint>" or "correct" and returns a bool, never raising, so the notebook runs top to
bottom with the exercise unsolved, and the solved copy in ``notebooks/solutions/`` asserts True.
"""

from __future__ import annotations

from typing import Any

from rftkit.course.exercises import STUB_HINT, NotYet, exercise_check
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
