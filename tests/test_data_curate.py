"""Near duplicates, leakage, the stratified split and the statistics."""

from collections import Counter

import matplotlib
import pytest

from rftkit.course.dataset import course_dataset
from rftkit.data import (
    build_dataset,
    dataset_stats,
    find_leakage,
    near_duplicates,
    plot_stats,
    stratified_split,
)

matplotlib.use("Agg")


def own(*rows):
    return build_dataset([dict(question=q, answer=a, **extra) for q, a, extra in rows])


@pytest.fixture(scope="module")
def course():
    return course_dataset(seed=0)


def test_near_duplicates_finds_reworded_and_templated_pairs():
    lines = own(
        ("What was the revenue of Acme in 2025-Q1?", "10.0", {}),
        ("what was the revenue of ACME in 2025-Q1", "10.0", {}),
        ("What was the revenue of Acme in 2025-Q2?", "12.5", {}),
        ("Name the capital of France.", "Paris", {}),
    )
    frame = near_duplicates(lines, threshold=90)
    pairs = list(zip(frame["first"], frame["second"], frame["same_answer"], strict=True))
    assert pairs == [(0, 1, True), (0, 2, False), (1, 2, False)]
    assert frame.loc[0, "score"] == 100.0  # case and punctuation do not count


def test_near_duplicates_of_distinct_questions_is_empty():
    lines = own(("alpha beta gamma", "1", {}), ("completely different words", "1", {}))
    assert near_duplicates(lines).empty


def test_leakage_reasons():
    train = own(
        ("What was the revenue of Acme in 2025-Q1?", "10.0", {"evidence": ["acme/q1.md"]}),
        ("How many people did Bolt employ in 2024-Q4?", "410", {"evidence": ["bolt/q4.md"]}),
        ("What was the revenue of Acme in 2025-Q2?", "12.5", {"evidence": ["acme/q2.md"]}),
    )
    valid = own(
        ("What was the revenue of Acme in 2025-Q1?", "10.0", {"evidence": ["acme/q1.md"]}),
        ("Bolt's headcount at the end of 2024-Q4?", "410", {"evidence": ["bolt/q4.md"]}),
        ("What was the revenue of Acme in 2025-Q3?", "12.5", {"evidence": ["acme/q3.md"]}),
        ("What was the revenue of Acme in 2025-Q2 ?", "12.5", {"evidence": ["acme/q2b.md"]}),
    )
    frame = find_leakage(train, valid)
    found = list(zip(frame["valid_index"], frame["train_index"], frame["reason"], strict=True))
    assert found == [
        (0, 0, "same question as"),
        (1, 1, "same evidence and answer as"),
        # valid 2 asks about another quarter: similar text, same answer, but not the same task
        (3, 2, "same question as"),
    ]


def test_near_duplicate_with_same_answer_and_numbers_is_leakage():
    train = own(("What was the net income of Acme Corp in 2025-Q1?", "3.5", {}))
    valid = own(("What was the net income of Acme Corp. for 2025-Q1?", "3.5", {}))
    frame = find_leakage(train, valid)
    assert frame["reason"].tolist() == ["near-duplicate question with the same answer as"]
    assert 90 <= frame.loc[0, "score"] < 100


def test_stratified_split_keeps_the_mix_and_loses_nothing(course):
    train, valid = stratified_split(course, valid_fraction=0.2, seed=0)
    assert len(train) == 80 and len(valid) == 20
    ids = [line["task_id"] for line in train + valid]
    assert sorted(ids) == sorted(line["task_id"] for line in course)
    mix = Counter((line["task_type"], line["tier"]) for line in valid)
    full = Counter((line["task_type"], line["tier"]) for line in course)
    assert all(abs(mix[k] - 0.2 * n) <= 1 for k, n in full.items())
    assert [line["task_id"] for line in train] == sorted(line["task_id"] for line in train)
    assert stratified_split(course, 0.2, seed=0) == (train, valid)
    assert stratified_split(course, 0.2, seed=1) != (train, valid)
    assert find_leakage(train, valid).empty


def test_split_refuses_a_stratum_of_one(course):
    lines = [*course, {**course[0], "task_id": "x", "task_type": "rare"}]
    with pytest.raises(ValueError, match=r"fewer than 2 lines cannot be split: rare\|1$"):
        stratified_split(lines, 0.2, seed=0)


def test_split_names_a_line_without_the_key(course):
    lines = [dict(course[0]), *course[1:]]
    del lines[0]["tier"]
    with pytest.raises(ValueError, match="line 1 has no 'tier'"):
        stratified_split(lines, 0.2, seed=0)


def test_dataset_stats(course):
    stats = dataset_stats(course)
    assert len(stats) == 100
    assert stats["task_type"].value_counts().to_dict() == {
        "lookup": 30, "difference": 20, "comparison": 20, "growth": 20, "multi_hop": 10,
    }  # fmt: skip
    assert stats["tokens"].between(500, 800).all()
    comparisons = stats[stats["task_type"] == "comparison"]
    assert comparisons["first_named_wins"].notna().all()
    assert stats.loc[stats["task_type"] != "comparison", "first_named_wins"].isna().all()


def test_plot_stats_draws_three_panels(course):
    figure = plot_stats(dataset_stats(course), title="course")
    assert [ax.get_title() for ax in figure.axes[:3]] == [
        "tokens per line (o200k)", "lines per task type and tier", "answers by unit",
    ]  # fmt: skip
    assert sum(p.get_height() for p in figure.axes[0].patches) == 100


def test_plot_stats_draws_a_teams_own_lines_without_types():
    lines = build_dataset([{"question": f"q{i}", "answer": str(i)} for i in range(12)])
    figure = plot_stats(dataset_stats(lines))
    assert [t.get_text() for t in figure.axes[1].get_xticklabels()] == ["(none)"]
