"""Agreement statistics, cross-checked against statsmodels, scikit-learn and published examples."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa as statsmodels_kappa

from rftkit.evaluation.agreement import (
    agreement_report,
    bin_scores,
    class_balance,
    cohen_kappa,
    confusion_table,
    disagreement_table,
    kappa_batch,
    kappa_interval,
    landis_koch_band,
    launch_gate,
    prevalence_paradox_tables,
    raw_agreement,
    spearman,
    undefined_kappa_reason,
)

SCALE = (0.0, 0.5, 1.0)
STATSMODELS_WEIGHTS = {None: None, "linear": "linear", "quadratic": "quadratic"}


def _pairs_from_table(table: list[list[int]]) -> tuple[list[int], list[int]]:
    """Expand a contingency table (rows: rater 1, columns: rater 2) into paired labels."""
    first, second = [], []
    for row, counts in enumerate(table):
        for column, count in enumerate(counts):
            first += [row] * count
            second += [column] * count
    return first, second


def _noisy_copy(rng: np.random.Generator, labels: np.ndarray, flip: float) -> np.ndarray:
    noise = rng.choice(SCALE, size=len(labels))
    return np.where(rng.random(len(labels)) < flip, noise, labels)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_matches_statsmodels_and_sklearn_on_random_labels(seed, weights):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(15, 120))
    human = rng.choice(SCALE, size=n, p=rng.dirichlet([1, 1, 1]))
    grader = _noisy_copy(rng, human, flip=rng.uniform(0.1, 0.9))
    ours = cohen_kappa(human, grader, labels=SCALE, weights=weights)
    table = confusion_table(human, grader, labels=SCALE).to_numpy()
    reference = statsmodels_kappa(table, wt=STATSMODELS_WEIGHTS[weights], return_results=False)
    codes = {label: i for i, label in enumerate(SCALE)}
    sklearn = cohen_kappa_score(
        [codes[x] for x in human], [codes[x] for x in grader], labels=[0, 1, 2], weights=weights
    )
    assert ours == pytest.approx(reference, abs=1e-12)
    assert ours == pytest.approx(sklearn, abs=1e-12)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_batched_kappa_used_by_the_bootstrap_matches_sklearn(weights):
    rng = np.random.default_rng(9)
    first = rng.integers(0, 3, size=(40, 25))
    second = np.where(rng.random((40, 25)) < 0.6, first, rng.integers(0, 3, size=(40, 25)))
    first[0] = second[0] = 2  # one resample where both raters used a single label
    batched = kappa_batch(first, second, 3, weights)
    assert math.isnan(batched[0])
    for row in range(1, 40):
        expected = cohen_kappa_score(first[row], second[row], labels=[0, 1, 2], weights=weights)
        assert batched[row] == pytest.approx(expected, abs=1e-12)


def test_wikipedia_worked_example():
    """Wikipedia, "Cohen's kappa", section "Simple example": 50 grant proposals read by A and B.

    Both yes 20, A yes / B no 5, A no / B yes 10, both no 15: p_o = 0.7, p_e = 0.5 (A says
    yes 50%, B 60%), so kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    """
    a, b = _pairs_from_table([[20, 5], [10, 15]])
    assert raw_agreement(a, b) == pytest.approx(0.7)
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert landis_koch_band(0.4) == "fair"


def test_sas_worked_example_simple_and_weighted():
    """SAS PROC FREQ printout reproduced in statsmodels' own tests
    (statsmodels/stats/tests/test_inter_rater.py, ``table10``): a 3x3 table
    [[0, 4, 1], [0, 8, 0], [0, 1, 5]] with simple kappa 0.4842 (ASE 0.1380, 95% CI
    0.2137-0.7547) and Cicchetti-Allison (linear) weighted kappa 0.4701.
    """
    a, b = _pairs_from_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    assert cohen_kappa(a, b, labels=[0, 1, 2]) == pytest.approx(0.4842, abs=5e-5)
    assert cohen_kappa(a, b, labels=[0, 1, 2], weights="linear") == pytest.approx(0.4701, abs=5e-5)


def test_bootstrap_interval_agrees_with_asymptotic_interval_on_a_large_sample():
    rng = np.random.default_rng(7)
    human = rng.choice(SCALE, size=400)
    grader = _noisy_copy(rng, human, flip=0.4)
    ours = kappa_interval(human, grader, labels=SCALE, n_resamples=400, seed=1)
    table = confusion_table(human, grader, labels=SCALE).to_numpy()
    asymptotic = statsmodels_kappa(table)
    assert ours.kappa == pytest.approx(asymptotic.kappa)
    assert ours.low == pytest.approx(asymptotic.kappa_low, abs=0.03)
    assert ours.high == pytest.approx(asymptotic.kappa_upp, abs=0.03)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(3)
    human = rng.choice(SCALE, size=60)
    grader = _noisy_copy(rng, human, flip=0.3)
    first = kappa_interval(human, grader, labels=SCALE, n_resamples=300, seed=5)
    again = kappa_interval(human, grader, labels=SCALE, n_resamples=300, seed=5)
    other = kappa_interval(human, grader, labels=SCALE, n_resamples=300, seed=6)
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < first.kappa < first.high


def test_undefined_kappa_is_explicit_everywhere():
    human = grader = [1.0] * 40
    assert math.isnan(cohen_kappa(human, grader, labels=SCALE))
    assert "undefined" in undefined_kappa_reason(human, grader)
    interval = kappa_interval(human, grader, labels=SCALE)
    assert math.isnan(interval.low) and interval.method == "undefined"
    decision = launch_gate(human, grader, labels=SCALE)
    assert not decision.passed
    assert "every item the label 1.0" in decision.reason
    assert landis_koch_band(math.nan) == "undefined"
    assert undefined_kappa_reason([0, 1], [1, 1]) is None


def test_perfect_agreement_gives_a_degenerate_but_defined_interval():
    labels = list(SCALE) * 12
    interval = kappa_interval(labels, labels, labels=SCALE, n_resamples=100)
    assert (interval.kappa, interval.low, interval.high) == (1.0, 1.0, 1.0)
    assert interval.method.startswith("percentile")


def test_a_degenerate_interval_is_warned_about_wherever_it_is_shown():
    labels = list(SCALE) * 12
    warning = "degenerate interval: all 100 resamples gave kappa 1.000"
    interval = kappa_interval(labels, labels, labels=SCALE, n_resamples=100)
    assert interval.degenerate and warning in str(interval)
    report = agreement_report(labels, labels, labels=SCALE, n_resamples=100)
    assert warning in report.summary()["value"]["kappa CI note"]
    gate = launch_gate(labels, labels, labels=SCALE, n_resamples=100)
    assert gate.passed and warning in str(gate)
    rng = np.random.default_rng(3)
    human = rng.choice(SCALE, size=60)
    noisy = kappa_interval(human, _noisy_copy(rng, human, flip=0.3), labels=SCALE, n_resamples=100)
    assert not noisy.degenerate and noisy.warning is None and "degenerate" not in str(noisy)
    summary = agreement_report(human, human[::-1], labels=SCALE, n_resamples=100).summary()
    assert "kappa CI note" not in summary.index


def test_launch_gate_passes_and_fails_with_reasons():
    rng = np.random.default_rng(11)
    human = rng.choice(SCALE, size=80)
    good = _noisy_copy(rng, human, flip=0.1)
    poor = _noisy_copy(rng, human, flip=0.7)
    passed = launch_gate(human, good, labels=SCALE, n_resamples=300)
    failed = launch_gate(human, poor, labels=SCALE, n_resamples=300)
    assert passed.passed and "reaches the threshold 0.60" in passed.reason
    assert not failed.passed and "is below the threshold 0.60" in failed.reason
    assert failed.interval.low < 0.6 <= passed.interval.low
    assert str(passed).startswith("PASS: Cohen's kappa")
    few = launch_gate(human[:10], good[:10], labels=SCALE)
    assert not few.passed and "only 10 labelled items" in few.reason
    weighted = launch_gate(human, poor, labels=SCALE, weights="quadratic", n_resamples=300)
    assert weighted.reason.startswith("quadratic-weighted kappa")


def test_prevalence_paradox_same_raw_agreement_different_kappa():
    table = prevalence_paradox_tables()
    assert list(table["raw agreement"]) == [0.9, 0.9]
    assert list(table["Cohen's kappa"]) == [0.8, 0.444]


def test_confusion_and_class_balance():
    human = [0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    grader = [0.0, 0.5, 0.5, 1.0, 1.0, 0.0]
    table = confusion_table(human, grader, labels=SCALE)
    assert table.loc["1.0", "0.0"] == 1 and table.to_numpy().trace() == 4
    balance = class_balance(human, grader, labels=SCALE)
    assert balance["human"].tolist() == pytest.approx([2 / 6, 1 / 6, 3 / 6])
    assert balance["grader"].tolist() == pytest.approx([2 / 6, 2 / 6, 2 / 6])


def test_report_bundles_the_statistics():
    rng = np.random.default_rng(2)
    human = rng.choice(SCALE, size=50)
    grader = _noisy_copy(rng, human, flip=0.3)
    report = agreement_report(human, grader, labels=SCALE, n_resamples=200)
    assert report.kappa.kappa == pytest.approx(cohen_kappa(human, grader, labels=SCALE))
    assert report.kappa_quadratic == pytest.approx(
        cohen_kappa(human, grader, labels=SCALE, weights="quadratic")
    )
    summary = report.summary()
    assert summary.loc["items", "value"] == 50
    assert summary.loc["Landis-Koch band", "value"] == report.band


@pytest.mark.parametrize(
    ("kappa", "band"),
    [(-0.1, "poor"), (0.0, "slight"), (0.2, "slight"), (0.21, "fair"), (0.6, "moderate"),
     (0.61, "substantial"), (0.81, "almost perfect"), (1.0, "almost perfect")],
)  # fmt: skip
def test_landis_koch_bands(kappa, band):
    assert landis_koch_band(kappa) == band


def test_bin_scores_midpoints_ties_and_custom_edges():
    scores = [0.0, 0.2, 0.25, 0.6, 0.75, 1.0, -0.3, 1.2]
    assert bin_scores(scores).tolist() == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 0.0, 1.0]
    assert bin_scores([0.5, 0.95], (0.0, 1.0), edges=[0.9]).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"scores\[1\] = nan"):
        bin_scores([0.1, math.nan])
    with pytest.raises(ValueError, match="edges must be 2 increasing"):
        bin_scores([0.1], SCALE, edges=[0.5])


def test_spearman_matches_scipy_and_handles_constant_input():
    rng = np.random.default_rng(4)
    human = rng.choice(SCALE, size=40)
    scores = np.clip(human + rng.normal(0, 0.3, 40), 0, 1)
    rho, p = spearman(human, scores)
    expected = spearmanr(human, scores)
    assert (rho, p) == pytest.approx((expected.statistic, expected.pvalue))
    assert all(math.isnan(x) for x in spearman([1, 1, 1], [0.1, 0.2, 0.3]))


def test_bad_input_names_what_and_where():
    with pytest.raises(ValueError, match="same items: 3 vs 2"):
        cohen_kappa([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"grader\[2\] = 0.7 is not one of labels"):
        cohen_kappa([0.0, 0.5, 1.0], [0.0, 0.5, 0.7], labels=SCALE)
    with pytest.raises(ValueError, match="no items"):
        cohen_kappa([], [])


def test_gate_lists_a_systematic_grader_bug_that_kappa_lets_pass():
    # 44 labelled refund answers; the grader's "exactly one number" rule gives 0 to every answer
    # that quotes the order number, right or not: a systematic bug on a few items.
    import re

    def grade(answer: str, refund: str) -> float:
        numbers = re.findall(r"\d+(?:\.\d+)?", answer)
        return 1.0 if numbers == [refund] else 0.0

    rows = []
    for i in range(44):
        refund = f"{10 + i}.50"
        right = i % 2 == 0
        said = refund if right else f"{90 + i}.00"
        quotes_id = i in (4, 16, 30)  # three right answers that also name the order
        answer = f"Order {1000 + i}: refund {said}" if quotes_id else f"The refund is {said}."
        rows.append((f"item-{i}", answer, 1.0 if right else 0.0, grade(answer, refund)))
    ids, _, human, graded = zip(*rows, strict=True)
    decision = launch_gate(list(human), list(graded), labels=(0.0, 1.0), items=ids, n_resamples=300)
    assert decision.passed  # κ alone says launch
    table = decision.disagreements
    assert list(table["item"]) == ["item-4", "item-16", "item-30"]
    assert set(table["direction"]) == {"grader below label"}
    assert list(table["label"]) == [1.0] * 3 and list(table["grader"]) == [0.0] * 3
    shown = decision.text()
    assert shown.startswith(str(decision)) and "3 disagreement(s): 3 grader below label" in shown
    assert "item-16" in shown


def test_disagreements_count_both_directions_and_name_series_items():
    human = pd.Series([0.0, 0.5, 1.0, 1.0, 0.0], index=["a", "b", "c", "d", "e"])
    grader = [0.5, 0.5, 0.0, 1.0, 0.0]
    table = disagreement_table(human, grader, labels=SCALE)
    assert table.to_dict("records") == [
        {"item": "a", "label": 0.0, "grader": 0.5, "direction": "grader above label"},
        {"item": "c", "label": 1.0, "grader": 0.0, "direction": "grader below label"},
    ]
    with pytest.raises(ValueError, match="items must name every labelled item"):
        disagreement_table(human, grader, labels=SCALE, items=["x"])
    agreeing = launch_gate(list(SCALE) * 12, list(SCALE) * 12, labels=SCALE, n_resamples=50)
    assert agreeing.disagreements.empty and "no item where" in agreeing.text()
