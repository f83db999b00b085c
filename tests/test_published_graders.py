"""Issue #16 done-when: grader configs as OpenAI publishes them validate and run unchanged.

The corpus and its sources are in ``tests/data/published_graders/README.md``. Model graders talk
to the fake chat-completions server of ``test_graders_model`` (real HTTP, requests checked
against the SDK's param types), answering each case's ``model_result``.
"""

import json
import warnings
from pathlib import Path

import openai
import pytest
from rapidfuzz import fuzz, utils
from test_graders_model import answer, fake_chat_server

from rftkit.graders import run_grader, validate_grader
from rftkit.serving import serve_in_background

CORPUS = Path(__file__).parent / "data" / "published_graders"
CASES = json.loads((CORPUS / "cases.json").read_text())


def load(name):
    return json.loads((CORPUS / name).read_text())


def test_every_stored_config_has_cases():
    assert sorted(CASES) == sorted(p.name for p in CORPUS.glob("*.json") if p.name != "cases.json")


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_config_validates_without_warnings(name):
    grader = load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalised = validate_grader(grader)
    assert normalised["name"] == grader.get("name", grader["type"])


def _expected(case):
    if case["reward"] == "rapidfuzz WRatio / 100":
        text, reference = case["sample"], case["item"]["reference_answer"]
        return fuzz.WRatio(text, reference, processor=utils.default_process) / 100.0
    return case["reward"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_config_grades_its_cases(name):
    grader = load(name)
    for case in CASES[name]:
        client = None
        if "model_result" in case:
            app = fake_chat_server(lambda body, result=case["model_result"]: answer(result))
            context = serve_in_background(app)
            base_url = context.__enter__()
            client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-fake", max_retries=0)
        try:
            result = run_grader(grader, case["sample"], case["item"], model_client=client)
        finally:
            if client is not None:
                context.__exit__(None, None, None)
        assert result.ok, result.metadata.error_details
        assert result.reward == pytest.approx(_expected(case)), case


def test_nameless_python_and_multi_get_default_names_and_warn_only_inside_multi():
    nameless_python = load("guide_python_minimal.json")
    assert validate_grader(nameless_python)["name"] == "python"
    multi = {
        "type": "multi",
        "graders": {"score": nameless_python},
        "calculate_output": "score",
    }
    with pytest.warns(UserWarning, match=r"graders\.score\.name: missing.*names it 'score'"):
        normalised = validate_grader(multi)
    assert normalised["name"] == "multi" and normalised["graders"]["score"]["name"] == "score"
    result = run_grader(multi, "x")
    assert result.reward == 1.0 and result.metadata.name == "multi"
    assert result.sub_rewards == {"score": 1.0}
