"""How far a grader agrees with human labels, and whether that is enough to launch a job.

A grader is only worth training against if it ranks answers the way an expert would. This
module measures that on a labelled set: Cohen's kappa (plain, linear- and quadratic-weighted)
with a paired bootstrap confidence interval over items, the confusion matrix, raw agreement and
each rater's class balance (kappa's *prevalence paradox*: high raw agreement, low kappa when one
class dominates), the Landis-Koch band, Spearman's rho for continuous scores, and a launch gate.

Typical use::

    graded = bin_scores(rewards, labels=(0.0, 0.5, 1.0))   # 0-1 rewards -> the human scale
    report = agreement_report(human, graded, labels=(0.0, 0.5, 1.0))
    decision = launch_gate(human, graded, labels=(0.0, 0.5, 1.0))
    decision.passed, decision.reason

The statistics come from scikit-learn (kappa, confusion matrix) and scipy (bootstrap,
Spearman); tests cross-check them against statsmodels. Labels are encoded as their position in
``labels`` before scikit-learn sees them, so weighted kappa penalises by *ordinal distance*
(0 vs 1 is two steps on a 0/0.5/1 scale) and float labels such as 0.5 are accepted.

Kappa is undefined when both raters used one and the same label for every item (chance
agreement is then 1 and kappa is 0/0). Every function here says so explicitly — ``nan`` plus a
reason — rather than letting a library warning scroll past.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import DegenerateDataWarning, bootstrap, spearmanr
from sklearn.metrics import cohen_kappa_score, confusion_matrix

Weights = Literal["linear", "quadratic"] | None
Label = Hashable

DEFAULT_GATE_THRESHOLD = 0.6
DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
MIN_GATE_ITEMS = 30
BOOTSTRAP_BATCH = 250  # resamples evaluated at once: bounds memory on large label sets

# Landis & Koch (1977), Biometrics 33:159-174: inclusive upper bounds; below 0 is "poor".
# Arbitrary but standard: always report the CI next to the band.
LANDIS_KOCH_BANDS: tuple[tuple[float, str], ...] = (
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.00, "almost perfect"),
)


def _as_array(values: Sequence[Label] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of labels, got shape {array.shape}")
    return array


def _codes(
    human: Sequence[Label], grader: Sequence[Label], labels: Sequence[Label] | None
) -> tuple[np.ndarray, np.ndarray, tuple[Label, ...]]:
    """Both raters' labels as positions in ``labels`` (ordinal order), checked for mistakes."""
    first, second = _as_array(human, "human"), _as_array(grader, "grader")
    if len(first) != len(second):
        raise ValueError(
            f"human and grader must label the same items: {len(first)} vs {len(second)} labels"
        )
    if len(first) == 0:
        raise ValueError("no items: agreement needs at least one labelled item")
    if labels is None:
        labels = tuple(sorted(set(first.tolist()) | set(second.tolist())))
    labels = tuple(labels)
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be distinct, got {labels!r}")
    position = {label: index for index, label in enumerate(labels)}
    for name, values in (("human", first), ("grader", second)):
        for index, value in enumerate(values.tolist()):
            if value not in position:
                raise ValueError(f"{name}[{index}] = {value!r} is not one of labels {labels!r}")
    encode = np.vectorize(position.__getitem__, otypes=[int])
    return encode(first), encode(second), labels


def undefined_kappa_reason(human: Sequence[Label], grader: Sequence[Label]) -> str | None:
    """Why kappa cannot be computed for these labels, or None when it can."""
    used = set(_as_array(human, "human").tolist()) | set(_as_array(grader, "grader").tolist())
    if len(used) == 1:
        (only,) = used
        return (
            f"kappa is undefined: both raters gave every item the label {only!r}, so chance"
            " agreement is 1 and kappa is 0/0; add items of other classes"
        )
    return None


def _kappa_from_codes(first: np.ndarray, second: np.ndarray, n_labels: int, weights: Weights):
    if len(set(first.tolist()) | set(second.tolist())) == 1:
        return math.nan
    kappa = cohen_kappa_score(
        first, second, labels=list(range(n_labels)), weights=weights, replace_undefined_by=math.nan
    )
    return float(kappa)


def kappa_batch(first: np.ndarray, second: np.ndarray, n_labels: int, weights: Weights):
    """Kappa of many resamples at once: codes of shape (..., n_items) -> kappas of shape (...).

    The same formula as ``sklearn.metrics.cohen_kappa_score`` (1 - sum(w*O) / sum(w*E)), written
    out because calling scikit-learn once per bootstrap resample is two orders of magnitude
    slower (``benchmarks/agreement.py`` prints both, with equal intervals); tests check it
    against scikit-learn. ``nan`` where undefined.
    """
    categories = np.arange(n_labels)
    one_hot_first = (first[..., None] == categories).astype(float)
    one_hot_second = (second[..., None] == categories).astype(float)
    observed = np.einsum("...ni,...nj->...ij", one_hot_first, one_hot_second)
    total = observed.sum(axis=(-2, -1), keepdims=True)
    expected = observed.sum(axis=-1, keepdims=True) * observed.sum(axis=-2, keepdims=True) / total
    distance = np.abs(categories[:, None] - categories[None, :]).astype(float)
    weight = {None: (distance > 0).astype(float), "linear": distance, "quadratic": distance**2}
    matrix = weight[weights]
    disagreement = (matrix * expected).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = 1 - (matrix * observed).sum(axis=(-2, -1)) / disagreement
    return np.where(disagreement > 0, kappa, np.nan)


def cohen_kappa(
    human: Sequence[Label],
    grader: Sequence[Label],
    *,
    labels: Sequence[Label] | None = None,
    weights: Weights = None,
) -> float:
    """Cohen's kappa (``weights`` None, "linear" or "quadratic"); ``nan`` when undefined.

    ``labels`` fixes the ordinal order (default: sorted union of both raters' labels); use
    :func:`undefined_kappa_reason` to say why a ``nan`` came back.
    """
    first, second, labels = _codes(human, grader, labels)
    return _kappa_from_codes(first, second, len(labels), weights)


@dataclass(frozen=True)
class KappaInterval:
    """A kappa with its bootstrap confidence interval (items resampled, pairs kept together)."""

    kappa: float
    low: float
    high: float
    confidence: float
    method: str
    n_resamples: int
    seed: int

    @property
    def degenerate(self) -> bool:
        """Every resample gave the same kappa, so the interval has no width."""
        return math.isfinite(self.low) and self.low == self.high

    @property
    def warning(self) -> str | None:
        """What a degenerate interval does not mean (None when the interval has a width)."""
        if not self.degenerate:
            return None
        return (
            f"degenerate interval: all {self.n_resamples} resamples gave kappa {self.low:.3f},"
            " because resampling items that (nearly) all agree cannot vary; it shows no"
            " uncertainty, not certainty: a few more items could lower kappa. Label more items"
        )

    def __str__(self) -> str:
        shown = (
            f"{self.kappa:.3f} [{self.low:.3f}, {self.high:.3f}]"
            f" ({self.confidence:.0%} CI, {self.method}, {self.n_resamples} resamples)"
        )
        return f"{shown} ({self.warning})" if self.warning else shown


def kappa_interval(
    human: Sequence[Label],
    grader: Sequence[Label],
    *,
    labels: Sequence[Label] | None = None,
    weights: Weights = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: Literal["BCa", "percentile", "basic"] = "BCa",
    seed: int = 0,
) -> KappaInterval:
    """Kappa and a seeded paired bootstrap CI (``scipy.stats.bootstrap``, items resampled).

    When every resample gives the same kappa (e.g. perfect agreement) BCa is undefined; the
    percentile interval of the same resamples is returned and ``method`` says so. An
    undefined point estimate gives a ``nan`` interval without resampling.
    """
    first, second, labels = _codes(human, grader, labels)
    kappa = _kappa_from_codes(first, second, len(labels), weights)
    if math.isnan(kappa):
        return KappaInterval(kappa, math.nan, math.nan, confidence, "undefined", 0, seed)

    def statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return kappa_batch(np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1), len(labels), weights)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = bootstrap(
            (first, second),
            statistic,
            paired=True,
            vectorized=True,
            batch=BOOTSTRAP_BATCH,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method=method,
            rng=np.random.default_rng(seed),
        )
    low, high = (float(x) for x in result.confidence_interval)
    used = method
    resampled = result.bootstrap_distribution
    if not (math.isfinite(low) and math.isfinite(high)) and np.isfinite(resampled).all():
        tail = (1 - confidence) / 2
        low, high = (float(x) for x in np.quantile(resampled, [tail, 1 - tail]))
        used = f"percentile ({method} undefined: degenerate resamples)"
    return KappaInterval(kappa, low, high, confidence, used, n_resamples, seed)


def landis_koch_band(kappa: float) -> str:
    """Landis & Koch's (1977) verbal band for a kappa: poor, slight, fair, ... almost perfect."""
    if math.isnan(kappa):
        return "undefined"
    if kappa < 0:
        return "poor"
    for upper, band in LANDIS_KOCH_BANDS:
        if kappa <= upper:
            return band
    raise ValueError(f"kappa cannot exceed 1, got {kappa}")


def raw_agreement(human: Sequence[Label], grader: Sequence[Label]) -> float:
    """Share of items on which both raters gave the same label (no chance correction)."""
    first, second, _ = _codes(human, grader, None)
    return float(np.mean(first == second))


def confusion_table(
    human: Sequence[Label], grader: Sequence[Label], *, labels: Sequence[Label] | None = None
) -> pd.DataFrame:
    """Counts with human labels as rows and grader labels as columns."""
    first, second, labels = _codes(human, grader, labels)
    counts = confusion_matrix(first, second, labels=list(range(len(labels))))
    names = [str(label) for label in labels]
    return pd.DataFrame(
        counts,
        index=pd.Index(names, name="human"),
        columns=pd.Index(names, name="grader"),
    )


def class_balance(
    human: Sequence[Label], grader: Sequence[Label], *, labels: Sequence[Label] | None = None
) -> pd.DataFrame:
    """Share of items in each class for each rater: the context every kappa needs."""
    table = confusion_table(human, grader, labels=labels)
    total = table.to_numpy().sum()
    return pd.DataFrame(
        {"human": table.sum(axis=1) / total, "grader": table.sum(axis=0).to_numpy() / total},
        index=pd.Index(table.index, name="label"),
    )


def spearman(human_scores: Sequence[float], grader_scores: Sequence[float]) -> tuple[float, float]:
    """Spearman's rho and its p-value: do the two rank the items alike (calibration aside)?

    Returns ``(nan, nan)`` when either side is constant (a rank correlation is undefined then).
    """
    first = np.asarray(human_scores, dtype=float)
    second = np.asarray(grader_scores, dtype=float)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(
            f"scores must be two flat sequences of equal length: {first.shape} vs {second.shape}"
        )
    if len(first) < 2 or np.ptp(first) == 0 or np.ptp(second) == 0:
        return math.nan, math.nan
    result = spearmanr(first, second)
    return float(result.statistic), float(result.pvalue)


def bin_scores(
    scores: Sequence[float],
    labels: Sequence[float] = (0.0, 0.5, 1.0),
    *,
    edges: Sequence[float] | None = None,
) -> np.ndarray:
    """Map continuous grader scores onto a label scale so kappa can compare them with humans.

    ``edges`` are the ``len(labels) - 1`` cut points (default: midpoints between labels, so
    0.25 and 0.75 for 0/0.5/1); a score equal to a cut point goes to the higher label.
    """
    values = np.asarray(scores, dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"scores[{bad[0]}] = {values[bad[0]]} is not a finite number")
    ordered = np.asarray(labels, dtype=float)
    if np.any(np.diff(ordered) <= 0):
        raise ValueError(f"labels must be increasing, got {tuple(labels)}")
    cuts = (ordered[:-1] + ordered[1:]) / 2 if edges is None else np.asarray(edges, dtype=float)
    if cuts.shape != (len(ordered) - 1,) or np.any(np.diff(cuts) <= 0):
        raise ValueError(
            f"edges must be {len(ordered) - 1} increasing cut points, got {tuple(cuts)}"
        )
    return ordered[np.digitize(values, cuts)]


@dataclass(frozen=True)
class AgreementReport:
    """Everything to look at before trusting a grader, for one set of paired labels."""

    n_items: int
    labels: tuple[Label, ...]
    raw_agreement: float
    kappa: KappaInterval
    kappa_linear: float
    kappa_quadratic: float
    band: str
    confusion: pd.DataFrame
    balance: pd.DataFrame
    undefined_reason: str | None

    def summary(self) -> pd.DataFrame:
        """One row per statistic, rounded for reading."""
        rows = {
            "items": self.n_items,
            "raw agreement": self.raw_agreement,
            "Cohen's kappa": self.kappa.kappa,
            f"kappa {self.kappa.confidence:.0%} CI low": self.kappa.low,
            f"kappa {self.kappa.confidence:.0%} CI high": self.kappa.high,
            "linear-weighted kappa": self.kappa_linear,
            "quadratic-weighted kappa": self.kappa_quadratic,
            "Landis-Koch band": self.band,
        }
        if self.kappa.warning:  # wherever a degenerate interval is shown, say what it means
            rows["kappa CI note"] = self.kappa.warning
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in rows.items()}
        return pd.DataFrame({"value": pd.Series(shown, dtype=object)})


def agreement_report(
    human: Sequence[Label],
    grader: Sequence[Label],
    *,
    labels: Sequence[Label] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> AgreementReport:
    """Raw agreement, kappa with CI, weighted kappas, band, confusion and class balance."""
    first, second, labels = _codes(human, grader, labels)
    interval = kappa_interval(
        human, grader, labels=labels, confidence=confidence, n_resamples=n_resamples, seed=seed
    )
    return AgreementReport(
        n_items=len(first),
        labels=labels,
        raw_agreement=float(np.mean(first == second)),
        kappa=interval,
        kappa_linear=_kappa_from_codes(first, second, len(labels), "linear"),
        kappa_quadratic=_kappa_from_codes(first, second, len(labels), "quadratic"),
        band=landis_koch_band(interval.kappa),
        confusion=confusion_table(human, grader, labels=labels),
        balance=class_balance(human, grader, labels=labels),
        undefined_reason=undefined_kappa_reason(human, grader),
    )


@dataclass(frozen=True)
class GateDecision:
    """Whether agreement is good enough to train against this grader, and why."""

    passed: bool
    reason: str
    interval: KappaInterval | None
    threshold: float
    n_items: int
    disagreements: pd.DataFrame = field(default_factory=lambda: disagreement_table([], []))
    """Every item where grader and label differ (:func:`disagreement_table`): a κ that passes
    can still hide a systematic bug on a few items, which only reading them shows."""

    @property
    def ok(self) -> bool:
        """The same as :attr:`passed`: the one verdict name every report of the kit has."""
        return self.passed

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}: {self.reason}"

    def text(self, limit: int = 20) -> str:
        """The verdict, then the disagreeing items (at most ``limit``), both directions counted."""
        table = self.disagreements
        if table.empty:
            return f"{self}\nno item where the grader and the label differ"
        counts = table["direction"].value_counts()
        said = ", ".join(f"{n} {direction}" for direction, n in counts.items())
        shown = table.head(limit).to_string(index=False)
        more = f"\n... and {len(table) - limit} more" if len(table) > limit else ""
        return f"{self}\n{len(table)} disagreement(s): {said}\n{shown}{more}"


def disagreement_table(
    human: Sequence[Label],
    grader: Sequence[Label],
    *,
    labels: Sequence[Label] | None = None,
    items: Sequence[Hashable] | None = None,
) -> pd.DataFrame:
    """One row per item where ``grader`` differs from ``human``: ``item``, ``label``,
    ``grader``, ``direction`` (``grader above label`` / ``grader below label``, by position in
    ``labels``, the ordinal scale). ``item`` is ``items[i]``, else the index of a pandas Series
    given as ``human``, else the position."""
    columns = ["item", "label", "grader", "direction"]
    if len(human) == 0 and len(grader) == 0:
        return pd.DataFrame(columns=columns)
    first, second, _ = _codes(human, grader, labels)
    if items is None:
        items = list(human.index) if isinstance(human, pd.Series) else range(len(first))
    items = list(items)
    if len(items) != len(first):
        raise ValueError(f"items must name every labelled item: {len(items)} vs {len(first)}")
    said, graded = _as_array(human, "human").tolist(), _as_array(grader, "grader").tolist()
    rows = [
        (items[i], said[i], graded[i], "grader above label" if b > a else "grader below label")
        for i, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True))
        if a != b
    ]
    return pd.DataFrame(rows, columns=columns)


def launch_gate(
    human: Sequence[Label],
    grader: Sequence[Label],
    *,
    labels: Sequence[Label] | None = None,
    weights: Weights = None,
    threshold: float = DEFAULT_GATE_THRESHOLD,
    confidence: float = DEFAULT_CONFIDENCE,
    min_items: int = MIN_GATE_ITEMS,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    items: Sequence[Hashable] | None = None,
) -> GateDecision:
    """Pass only if the lower CI bound of kappa reaches ``threshold`` (default 0.6).

    The lower bound, not the point estimate, so that a lucky small sample cannot pass. Fails
    with the reason when there are fewer than ``min_items`` items or kappa is undefined. Either
    way the decision lists the disagreeing items (``items`` names them; see
    :func:`disagreement_table`) and :meth:`GateDecision.text` shows them beside κ.
    """
    first, _, labels = _codes(human, grader, labels)
    table = disagreement_table(human, grader, labels=labels, items=items)
    name = "Cohen's kappa" if weights is None else f"{weights}-weighted kappa"
    if len(first) < min_items:
        reason = f"only {len(first)} labelled items; the gate needs at least {min_items}"
        return GateDecision(False, reason, None, threshold, len(first), table)
    undefined = undefined_kappa_reason(human, grader)
    if undefined is not None:
        return GateDecision(False, undefined, None, threshold, len(first), table)
    interval = kappa_interval(
        human,
        grader,
        labels=labels,
        weights=weights,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    where = (
        f"{name} {interval.kappa:.3f} ({landis_koch_band(interval.kappa)}),"
        f" {confidence:.0%} CI [{interval.low:.3f}, {interval.high:.3f}] on {len(first)} items"
    )
    if not math.isfinite(interval.low):
        reason = f"{where}: the bootstrap interval is undefined, so the gate cannot be judged"
        return GateDecision(False, reason, interval, threshold, len(first), table)
    passed = interval.low >= threshold
    verdict = "reaches" if passed else "is below"
    reason = f"{where}: the lower bound {verdict} the threshold {threshold:.2f}"
    if interval.warning:
        reason = f"{reason} ({interval.warning})"
    return GateDecision(passed, reason, interval, threshold, len(first), table)


def prevalence_paradox_tables() -> pd.DataFrame:
    """Two rater pairs with the same 90% raw agreement but very different kappa.

    Balanced classes (45/5/5/45) give kappa 0.80; a dominant class (85/5/5/5) gives 0.44,
    because chance agreement is already 82% when both raters say "pass" 90% of the time.
    """
    rows = []
    for name, cells in (("balanced", (45, 5, 5, 45)), ("one class dominates", (85, 5, 5, 5))):
        both_pass, pass_fail, fail_pass, both_fail = cells
        human = ["pass"] * (both_pass + pass_fail) + ["fail"] * (fail_pass + both_fail)
        grader = (
            ["pass"] * both_pass + ["fail"] * pass_fail + ["pass"] * fail_pass
            + ["fail"] * both_fail
        )  # fmt: skip
        rows.append(
            {
                "case": name,
                "human 'pass' share": round(human.count("pass") / len(human), 3),
                "raw agreement": round(raw_agreement(human, grader), 3),
                "Cohen's kappa": round(cohen_kappa(human, grader), 3),
            }
        )
    return pd.DataFrame(rows).set_index("case")
