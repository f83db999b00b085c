"""The self-check of notebook 05's exercise: hosted hyperparameters for a given GRPO budget.

It prints "not yet: <hint>" or "correct" and returns a bool, never raising, so the notebook runs
top to bottom with the exercise unsolved (the solved copy in ``notebooks/solutions/`` asserts
True). It follows the convention of the course's exercise checks (``rftkit.exercises`` on the
``course`` branch, not yet on main when this was written); move it there when that lands.
"""

from __future__ import annotations

from typing import Any

from rftkit.local.hyperparameters import grpo_config
from rftkit.task import RFTTask

TARGET = {"steps": 5, "group_size": 3, "eval_interval": 5}
"""The budget the exercise asks for: 5 GRPO steps, 3 rollouts per task, validation at the end."""


def _verdict(hyperparameters: Any, task: RFTTask) -> str | None:
    """None when right, else the hint."""
    if hyperparameters is None or hyperparameters is Ellipsis:
        return "the exercise still holds its stub; write a dict of hosted hyperparameters"
    if not isinstance(hyperparameters, dict):
        return f"give a dict such as {{'n_epochs': 1, ...}}, not {type(hyperparameters).__name__}"
    candidate = task.model_copy()
    try:
        candidate.hyperparameters = hyperparameters  # the task's own validation runs
    except ValueError as error:
        return f"the task refuses them: {str(error).splitlines()[-1].strip()}"
    config, _ = grpo_config(candidate, len(task.items("train")))
    got = {name: getattr(config, name) for name in TARGET}
    wrong = [
        f"{name} is {got[name]}, not {want}" for name, want in TARGET.items() if got[name] != want
    ]
    if wrong:
        return (
            "; ".join(wrong) + " (read the mapping table: steps = ceil(n_epochs x lines / "
            "batch_size), rollouts per task = max(2, round(6 x compute_multiplier)))"
        )
    return None


def check_step_budget(hyperparameters: Any, task: RFTTask) -> bool:
    """Whether ``hyperparameters`` make the local engine run ``TARGET`` on ``task``; prints why."""
    try:
        hint = _verdict(hyperparameters, task)
    except Exception as error:  # a learner's answer may break anything; it is a hint, not a crash
        hint = f"your answer raised {type(error).__name__}: {error}"[:300]
    print("correct" if hint is None else f"not yet: {hint}")
    return hint is None
