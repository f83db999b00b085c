"""``text_similarity`` metrics, each one call into the library OpenAI's grader image ships.

Choices the documentation leaves open, decided here and checked by the parity tests when a key
is set (``tests/test_graders_parity.py``):

- ``fuzzy_match`` is ``rapidfuzz.fuzz.ratio / 100``: the normalised Indel similarity of the two
  whole strings. The guide says only "rapidfuzz"; ``ratio`` is its plain, symmetric score.
  ``WRatio``/``partial_ratio`` take the best substring or token alignment, so an answer that
  merely *contains* the reference (or pads it with every number in the document) would score 1
  — exactly the reward hack a grader must not allow.
- ``bleu``/``gleu``/``meteor`` use nltk's sentence-level functions with their defaults on
  whitespace tokens (no smoothing: BLEU of a short answer without 4-gram overlap is ~0, even
  against itself; prefer ``fuzzy_match`` or ``rouge_1``/``rouge_l`` for short answers, and let
  :func:`rftkit.graders.check_metric_rewards_references` check a metric on the dataset).
- ``rouge_*`` is the F-measure of ``rouge_score.RougeScorer`` with its defaults (no stemming).
- ``meteor`` needs WordNet (see :mod:`rftkit.graders.wordnet`); ``cosine`` needs a local
  embedding model (see :mod:`rftkit.graders.embeddings`). Both refuse with a message naming what
  to install rather than score differently.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache

from rapidfuzz import fuzz

from rftkit.errors import RFTKitError

METRICS = (
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)
EVALS_ONLY = frozenset({"cosine"})
"""Metrics OpenAI accepts in Evals but not in RFT jobs (docs/hosted-api.md §5.2)."""


class MetricUnavailable(RuntimeError, RFTKitError):
    """A metric whose data or model is not installed; the message says what to install."""


def fuzzy_match(text: str, reference: str) -> float:
    return fuzz.ratio(text, reference) / 100.0


def _tokens(text: str) -> list[str]:
    return text.split()


def bleu(text: str, reference: str) -> float:
    from nltk.translate.bleu_score import sentence_bleu

    with warnings.catch_warnings():  # nltk warns on zero n-gram overlap; the score says so
        warnings.simplefilter("ignore", UserWarning)
        return float(sentence_bleu([_tokens(reference)], _tokens(text)))


def gleu(text: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu

    return float(sentence_gleu([_tokens(reference)], _tokens(text)))


def meteor(text: str, reference: str) -> float:
    from nltk.translate.meteor_score import meteor_score

    from rftkit.graders.wordnet import load_wordnet

    return float(meteor_score([_tokens(reference)], _tokens(text), wordnet=load_wordnet()))


@cache
def _rouge_scorer(rouge_type: str):
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer([rouge_type])


def _rouge(rouge_type: str) -> Callable[[str, str], float]:
    def score(text: str, reference: str) -> float:
        result = _rouge_scorer(rouge_type).score(target=reference, prediction=text)
        return float(result[rouge_type].fmeasure)

    score.__name__ = rouge_type
    return score


def cosine(text: str, reference: str) -> float:
    from rftkit.graders.embeddings import cosine_similarity

    return cosine_similarity(text, reference)


SCORERS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    "cosine": cosine,
    **{f"rouge_{n}": _rouge(f"rouge{n}") for n in "12345"},
    "rouge_l": _rouge("rougeL"),
}


def similarity(metric: str, text: str, reference: str) -> float:
    """The ``metric`` score of ``text`` against ``reference``, in [0, 1]."""
    if metric not in SCORERS:
        raise ValueError(f"unknown evaluation_metric {metric!r}; one of {', '.join(METRICS)}")
    return SCORERS[metric](text, reference)
