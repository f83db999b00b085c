"""Every text_similarity metric equals its reference library called directly, on a battery."""

import warnings

import nltk
import pytest
from nltk.translate.bleu_score import sentence_bleu
from nltk.translate.gleu_score import sentence_gleu
from nltk.translate.meteor_score import meteor_score
from rapidfuzz import fuzz
from rouge_score.rouge_scorer import RougeScorer

from rftkit.graders import GraderValidationError, run_grader, validate_grader
from rftkit.graders import wordnet as wordnet_module

PAIRS = [
    ("this is a test!", "this is a test"),
    (
        "The net income of Meromir Brands in 2024-Q2 was 911.4 USD millions.",
        "Meromir Brands reported net income of 911.4 USD millions in 2024-Q2.",
    ),
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the kitten is sitting on a mat", "the cat sat on the mat"),
    ("Valigard Freight", "valigard freight"),
    ("911.4", "911.45"),
    ("completely different words here", "nothing in common at all"),
    ("Zürich café naïve — déjà vu", "Zurich cafe naive - deja vu"),
    ("a b c d e f g h", "h g f e d c b a"),
    ("", "something"),
]


def grader(metric):
    return {
        "type": "text_similarity",
        "name": metric,
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
        "evaluation_metric": metric,
    }


def reference_fuzzy(text, reference):
    return fuzz.ratio(text, reference) / 100


def reference_bleu(text, reference):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sentence_bleu([reference.split()], text.split())


def reference_gleu(text, reference):
    return sentence_gleu([reference.split()], text.split())


def reference_rouge(kind):
    def score(text, reference):
        return RougeScorer([kind]).score(reference, text)[kind].fmeasure

    return score


REFERENCES = {
    "fuzzy_match": reference_fuzzy,
    "bleu": reference_bleu,
    "gleu": reference_gleu,
    **{f"rouge_{n}": reference_rouge(f"rouge{n}") for n in "12345"},
    "rouge_l": reference_rouge("rougeL"),
}


@pytest.mark.parametrize("metric", list(REFERENCES))
def test_metric_equals_the_reference_library(metric):
    for text, reference in PAIRS:
        result = run_grader(grader(metric), text, {"reference": reference})
        assert result.ok, result.metadata.error_details
        assert result.reward == pytest.approx(REFERENCES[metric](text, reference), abs=1e-12), (
            text,
            reference,
        )


@pytest.mark.parametrize(
    ("metric", "text", "reference", "expected"),
    [
        ("fuzzy_match", "this is a test!", "this is a test", 0.9655172413793104),
        ("fuzzy_match", "911.4", "911.4", 1.0),
        ("bleu", "the cat sat on the mat", "the cat sat on the mat", 1.0),
        ("rouge_1", "the cat sat on the mat", "the cat is on the mat", 5 / 6),
        ("rouge_l", "a b c", "a b c", 1.0),
        ("rouge_2", "a b c", "c b a", 0.0),
    ],
)
def test_known_values(metric, text, reference, expected):
    assert run_grader(grader(metric), text, {"reference": reference}).reward == pytest.approx(
        expected
    )


def _wordnet_or_skip():
    try:
        return wordnet_module.load_wordnet()
    except Exception as exc:  # MetricUnavailable: the reason is shown in the skip
        pytest.skip(str(exc))


def test_meteor_equals_nltk_with_the_same_wordnet():
    wordnet = _wordnet_or_skip()
    for text, reference in PAIRS:
        expected = meteor_score([reference.split()], text.split(), wordnet=wordnet)
        result = run_grader(grader("meteor"), text, {"reference": reference})
        assert result.ok and result.reward == pytest.approx(expected, abs=1e-12)
    car = {"reference": "he drove the car home"}  # synonyms count (via nltk's WordNet stage)
    synonyms = run_grader(grader("meteor"), "he drove the auto home", car)
    other = run_grader(grader("meteor"), "he drove the bus home", car)
    assert synonyms.reward == pytest.approx(0.996) and other.reward == pytest.approx(0.75)


def test_meteor_refuses_without_wordnet(monkeypatch):
    def missing(resource, *args, **kwargs):
        raise LookupError(resource)

    monkeypatch.setattr(nltk.data, "find", missing)
    wordnet_module.load_wordnet.cache_clear()
    try:
        result = run_grader(grader("meteor"), "a", {"reference": "a"})
    finally:
        wordnet_module.load_wordnet.cache_clear()
    assert result.reward == 0 and result.metadata.errors.other_error
    assert "nltk.downloader wordnet" in result.metadata.error_details[0]
    assert "wordnet-base" in result.metadata.error_details[0]


def test_lexnames_come_from_the_manpage_table():
    if not wordnet_module.SYSTEM_LEXNAMES_MAN.is_file():
        pytest.skip("Debian's wordnet-base is not installed")
    lines = wordnet_module.lexnames_from_manpage(wordnet_module.SYSTEM_LEXNAMES_MAN).splitlines()
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1"
    assert lines[18] == "18\tnoun.person\t1" and lines[44] == "44\tadj.ppl\t3"


def test_cosine_is_evals_only():
    with pytest.raises(GraderValidationError, match="evaluation_metric.*evals-only"):
        validate_grader(grader("cosine"))
    assert validate_grader(grader("cosine"), purpose="evals")["evaluation_metric"] == "cosine"
