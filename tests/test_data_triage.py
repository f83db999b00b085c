"""Learnability triage on synthetic baseline results (k rewards per item)."""

import numpy as np
import pytest

from rftkit.data import filter_learnable, triage


def synthetic(seed=0, k=8):
    """Items with a known success rate: 0, 1, a fixed partial credit, and some in between."""
    rng = np.random.default_rng(seed)
    rates = {"never": 0.0, "always": 1.0, "half": 0.5, "rare": 0.1}
    rewards = {item: (rng.random(k) < rate).astype(float).tolist() for item, rate in rates.items()}
    rewards["rare"][0] = 1.0  # make sure the rare success happened once
    rewards["partial"] = [0.5] * k
    return rewards


def test_verdicts():
    frame = triage(synthetic())
    assert dict(zip(frame["item"], frame["verdict"], strict=True)) == {
        "never": "always_0",
        "always": "always_1",
        "half": "learnable",
        "rare": "learnable",
        "partial": "constant",
    }
    assert (frame["k"] == 8).all()
    assert frame.loc[frame["item"] == "always", "mean"].item() == 1.0


def test_custom_reward_range():
    frame = triage({"a": [-1, -1], "b": [2, 2], "c": [-1, 2]}, low=-1, high=2)
    assert frame["verdict"].tolist() == ["always_0", "always_1", "learnable"]


def test_fewer_than_two_rewards_is_unscored():
    frame = triage({"one": [1.0], "none": [], "two": [0.0, 1.0]})
    assert frame["verdict"].tolist() == ["unscored", "unscored", "learnable"]
    assert frame.loc[1, "k"] == 0 and np.isnan(frame.loc[1, "mean"])


def test_nan_rewards_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        triage({"x": [1.0, float("nan")]})


def test_filter_keeps_learnable_lines_in_order():
    lines = [{"task_id": name, "n": i} for i, name in enumerate(["half", "never", "rare"])]
    kept = filter_learnable(lines, triage(synthetic()))
    assert kept == [{"task_id": "half", "n": 0}, {"task_id": "rare", "n": 2}]
    both = filter_learnable(lines, triage(synthetic()), keep=("learnable", "always_0"))
    assert len(both) == 3


def test_filter_refuses_untriaged_lines_and_unknown_verdicts():
    frame = triage(synthetic())
    with pytest.raises(ValueError, match="1 line\\(s\\) have no triage verdict: t9"):
        filter_learnable([{"task_id": "half"}, {"task_id": "t9"}], frame)
    with pytest.raises(ValueError, match="unknown verdicts"):
        filter_learnable([], frame, keep=("good",))
