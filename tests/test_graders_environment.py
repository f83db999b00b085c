"""OpenAI's published python-grader environment: the list, the import check, the pyproject extra."""

import tomllib
import warnings
from pathlib import Path

import pytest

from rftkit.graders import GraderValidationWarning, grader_warnings, validate_grader
from rftkit.graders.environment import (
    IMAGE_TAG,
    PACKAGES,
    imported_modules,
    unavailable_imports,
    version_differences,
)

SOURCE = """
import json, os.path
import numpy as np
from sklearn.metrics import f1_score
from rapidfuzz import fuzz
from . import sibling
import torch
from transformers.pipelines import pipeline

def grade(sample, item):
    import requests  # a dependency of scikit-bio: installed in the image
    from vllm import LLM
    return 1.0
"""


def test_imports_are_found_at_any_depth_and_checked_against_the_published_list():
    assert imported_modules(SOURCE) == {
        "json", "os", "numpy", "sklearn", "rapidfuzz", "torch", "transformers", "requests", "vllm",
    }  # fmt: skip
    assert unavailable_imports(SOURCE) == ["torch", "transformers", "vllm"]


def test_validation_warns_naming_the_field_and_the_source():
    grader = {"type": "python", "name": "p", "source": SOURCE, "image_tag": "2026-01-01"}
    with pytest.warns(GraderValidationWarning) as caught:
        validate_grader(grader)
    messages = [str(w.message) for w in caught]
    assert messages[0].startswith("source: imports torch, transformers, vllm, not in OpenAI's")
    assert "guides/graders" in messages[0]
    assert messages[1].startswith("image_tag: '2026-01-01' is not documented")
    clean = {
        "type": "python",
        "name": "p",
        "source": "import numpy\ndef grade(s, i):\n    return 1",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_grader({**clean, "image_tag": IMAGE_TAG})
    inside = {"type": "multi", "name": "m", "graders": {"p": grader}, "calculate_output": "p"}
    assert grader_warnings(inside)[0].startswith("graders.p.source: imports torch")


def test_the_grader_env_extra_pins_exactly_the_published_versions():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    pins = dict(pin.split("==") for pin in extras["grader-env"])
    assert pins == PACKAGES
    assert not set(pins) & {pin.split(">")[0].split("=")[0] for pin in extras["dev"]}


def test_version_differences_name_what_this_interpreter_lacks_or_has_newer():
    differences = {name: (published, here) for name, published, here in version_differences()}
    assert set(differences) <= set(PACKAGES)
    assert all(published == PACKAGES[name] for name, (published, _) in differences.items())
    assert differences.get("ast-grep-py", (None, None))[1] is None  # not installed in the kit


def test_missing_nltk_corpora_are_looked_up_where_nltk_looks(tmp_path, monkeypatch):
    import zipfile

    import nltk

    from rftkit.graders.environment import NLTK_CORPORA, missing_nltk_corpora

    (tmp_path / "corpora" / "names").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "corpora" / "stopwords.zip", "w") as zipped:
        zipped.writestr("stopwords/", "")  # nltk also reads zipped corpora, as it ships them
        zipped.writestr("stopwords/english", "the\n")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    assert missing_nltk_corpora() == [n for n in NLTK_CORPORA if n not in ("names", "stopwords")]
