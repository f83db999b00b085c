"""rftkit.analysis.paired: before/after paired by item, standard errors over items."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rftkit.analysis.paired import paired_change, paired_table


def _frame(rewards: dict[str, list[float | None]]) -> pd.DataFrame:
    rows = [
        {"item_id": item, "reward": r, "correct": float(r is not None and r >= 1), "tool_calls": 2}
        for item, values in rewards.items()
        for r in values
    ]
    return pd.DataFrame(rows)


def test_the_unit_is_the_item_and_the_change_is_paired() -> None:
    before = _frame({"a": [0.0, 0.2], "b": [0.5, 0.5], "c": [1.0, 0.8]})
    after = _frame({"a": [0.2, 0.4], "b": [0.7, 0.7], "c": [1.0, 1.0]})
    c = paired_change(before, after)
    assert c.items == 3
    assert c.before == pytest.approx((0.1 + 0.5 + 0.9) / 3)
    # per-item diffs 0.2, 0.2, 0.1: mean 0.1667, sd 0.0577, SE 0.0333
    assert c.change == pytest.approx(0.5 / 3)
    assert c.change_se == pytest.approx(0.057735 / math.sqrt(3), rel=1e-4)
    assert c.z == pytest.approx(5.0, rel=1e-3) and c.distinguishable()
    # unpaired, the items' spread (0.1 .. 0.9) would swamp the same change
    assert c.before_se > 3 * c.change_se


def test_a_change_inside_the_noise_is_not_distinguishable() -> None:
    before = _frame({"a": [0.0, 1.0], "b": [1.0, 0.0], "c": [0.0, 0.0]})
    after = _frame({"a": [1.0, 1.0], "b": [0.0, 0.0], "c": [0.0, 0.0]})
    c = paired_change(before, after)
    assert c.change == pytest.approx(0.0) and not c.distinguishable()


def test_discarded_rollouts_and_unshared_items_are_left_out() -> None:
    before = _frame({"a": [0.4, None], "b": [0.2, 0.2], "only_before": [1.0, 1.0]})
    after = _frame({"a": [0.6, 0.6], "b": [None, None]})
    c = paired_change(before, after)
    assert c.items == 1 and c.before == pytest.approx(0.4) and c.after == pytest.approx(0.6)
    assert math.isnan(c.change_se) and not c.distinguishable()


def test_no_shared_item_and_a_missing_column_are_named() -> None:
    with pytest.raises(ValueError, match="reward: the before and after frames share no scored"):
        paired_change(_frame({"a": [1.0]}), _frame({"b": [1.0]}))
    with pytest.raises(KeyError, match="latency_s"):
        paired_change(_frame({"a": [1.0]}), _frame({"a": [1.0]}), "latency_s")


def test_the_table_has_a_row_per_metric_with_its_standard_errors() -> None:
    before = _frame({"a": [0.0, 0.2], "b": [0.5, 0.5], "c": [1.0, 0.8]})
    after = _frame({"a": [0.2, 0.4], "b": [0.7, 0.7], "c": [1.0, 1.0]})
    table = paired_table(before, after)
    assert list(table.index) == ["mean reward", "accuracy", "tool calls per rollout"]
    assert table.loc["mean reward", "change"] == "+0.167 ± 0.033"
    assert table.loc["mean reward", "change / SE"] == 5.0
