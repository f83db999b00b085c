"""Can a ``text_similarity`` metric reward the dataset's own reference answers?

BLEU (nltk's sentence BLEU, the kit's reading of the guide's "BLEU score") gives a perfect
one-word answer ~0: ``911.4`` against ``911.4`` scores 1.8e-231, because a one-token answer has
no 2-, 3- or 4-grams to match. ``rouge_3``…``rouge_5`` give 0 to short answers for the same reason.
A job graded that way pays nothing for being right and learns nothing — a trap that costs a whole
training run to discover. This check scores each item's reference against itself and against a
few near-misses, before any job does:

- ``exact``: the reference itself — a metric that cannot give this ~1 cannot reward the answer;
- ``as a sentence`` (``The answer is <ref>.``) and ``trailing period``: right, phrased otherwise;
- ``one character off``: wrong by one character (the last letter or digit changed) — a metric
  that pays this as much as ``exact`` cannot tell right from nearly right.

Whatever the service computes for BLEU (undocumented beyond "BLEU score"), a team is told here.

Example::

    report = check_metric_rewards_references(grader, items)
    report.table      # one row per text_similarity grader and near-miss: mean / min score
    report.problems   # why a metric cannot reward these references, one line per grader
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rftkit.graders.similarity import MetricUnavailable, similarity
from rftkit.graders.templating import TemplateError, render

MIN_EXACT_SCORE = 0.9
"""A metric must give an exact reference at least this much to count as able to reward it."""


def _one_character_off(reference: str) -> str:
    for index in range(len(reference) - 1, -1, -1):
        char = reference[index]
        if char.isdigit():
            return reference[:index] + str((int(char) + 1) % 10) + reference[index + 1 :]
        if char.isalpha():
            replacement = "a" if char.lower() != "a" else "b"
            return reference[:index] + replacement + reference[index + 1 :]
    return reference + "x"


NEAR_MISSES: dict[str, Callable[[str], str]] = {
    "exact": lambda reference: reference,
    "as a sentence": lambda reference: f"The answer is {reference}.",
    "trailing period": lambda reference: f"{reference}.",
    "one character off": _one_character_off,
}


@dataclass(frozen=True)
class ReferenceCheck:
    """Scores per grader, item and near-miss (``rows``), summarised in ``table``."""

    rows: pd.DataFrame
    table: pd.DataFrame
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _similarity_graders(grader: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if grader["type"] == "text_similarity":
        yield str(grader.get("name") or "text_similarity"), grader
    elif grader["type"] == "multi":
        for key, sub in grader["graders"].items():
            if sub["type"] == "text_similarity":
                yield f"graders.{key}", sub


def check_metric_rewards_references(
    grader: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    *,
    min_exact_score: float = MIN_EXACT_SCORE,
) -> ReferenceCheck:
    """Score every ``text_similarity`` grader's reference (filled from each item) against itself
    and near-misses with the grader's own metric; a problem for each grader whose ``exact``
    score falls below ``min_exact_score`` on any item.

    A reference that reads the sample (``{{sample...}}``) cannot be known before a rollout and
    is skipped; an item that lacks the field is skipped too (the dataset validator reports it).
    """
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for where, sub in _similarity_graders(grader):
        metric = sub["evaluation_metric"]
        try:
            for index, item in enumerate(items):
                try:
                    reference = render(sub["reference"], {"item": dict(item), "sample": {}})
                except TemplateError:
                    continue
                for variant, build in NEAR_MISSES.items():
                    rows.append(
                        {
                            "grader": where,
                            "metric": metric,
                            "item": index,
                            "reference": reference,
                            "variant": variant,
                            "score": similarity(metric, build(reference), reference),
                        }
                    )
        except MetricUnavailable as exc:
            problems.append(f"{where}.evaluation_metric: {metric!r} could not be checked: {exc}")
            continue
        exact = [r for r in rows if r["grader"] == where and r["variant"] == "exact"]
        failing = [r for r in exact if r["score"] < min_exact_score]
        if failing:
            worst = min(failing, key=lambda r: r["score"])
            problems.append(
                f"{where}.evaluation_metric: {metric!r} gives {len(failing)} of {len(exact)} "
                f"reference answers less than {min_exact_score} when the answer is exactly "
                f"right (e.g. {worst['reference'][:40]!r} against itself: {worst['score']:.3g});"
                " a job graded this way cannot reward correct answers"
            )
    return ReferenceCheck(rows=pd.DataFrame(rows), table=_summary(rows), problems=problems)


def _summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=["grader", "metric", "variant", "items", "mean", "min"])
    frame = pd.DataFrame(rows)
    table = (
        frame.groupby(["grader", "metric", "variant"], sort=False)["score"]
        .agg(items="size", mean="mean", min="min")
        .reset_index()
    )
    return table.round({"mean": 3, "min": 3})
