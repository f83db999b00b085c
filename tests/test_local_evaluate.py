"""The local evaluation: real rollouts of the base model over HTTP, with the tool-use patterns."""

import pytest

from rftkit.course.evaluate import evaluate, summarise
from rftkit.course.worlds import HELDOUT_SEEDS, world_seeds
from rftkit.local.checkpoint import BASE_CHECKPOINT, load_model


@pytest.fixture(scope="module")
def rows():
    model, tokenizer = load_model(BASE_CHECKPOINT)
    return evaluate(model, tokenizer, world_seeds(HELDOUT_SEEDS, 1), tasks_per_world=10)


def test_each_row_counts_its_turns_and_calls(rows):
    assert len(rows) == 10
    # every tool turn made at least one call; a completed rollout also has its answer turn
    assert (rows["tool_calls"] >= rows["tool_turns"]).all()
    assert (rows["turns"] >= rows["tool_turns"]).all()
    completed = rows[rows["status"] == "completed"]
    assert (completed["turns"] == completed["tool_turns"] + 1).all()
    assert (rows["parallel_turns"] <= rows["tool_turns"]).all()
    # the base model reasons before some turns (its expert did before half of them)
    assert rows["reasoning_tokens"].sum() > 0


def test_summary_has_the_pattern_figures(rows):
    summary = summarise(rows)
    scored = rows.dropna(subset=["reward"])
    assert summary["turns_mean"] == pytest.approx(scored["turns"].mean(), abs=1e-3)
    share = scored["parallel_turns"].sum() / scored["tool_turns"].sum()
    assert summary["parallel_turn_share"] == pytest.approx(share, abs=1e-4)
    assert summary["reasoning_tokens_mean"] == pytest.approx(
        scored["reasoning_tokens"].mean(), abs=1e-3
    )
    for kind, group in scored.groupby("task_type"):
        share = group["parallel_turns"].sum() / max(group["tool_turns"].sum(), 1)
        assert summary["parallel_turn_share_by_type"][kind] == pytest.approx(share, abs=1e-4)
    by_type = summary["accuracy_by_type"]
    assert set(by_type) == set(scored["task_type"])
    assert sum(by_type[t] * (scored["task_type"] == t).sum() for t in by_type) == pytest.approx(
        scored["correct"].sum(), abs=1e-3
    )
