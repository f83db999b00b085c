"""The Modal deployment, offline: it imports, its settings fit the burst, and its app is ready.

Nothing here talks to Modal (there is no emulator); ``web.local()`` calls the factory, which is
exactly the FastAPI app the container serves, except that state stays in process.
"""

import importlib

import pytest

from rftkit.endpoints import check_endpoint
from rftkit.serving import serve_in_background

TOKEN = "modal-local-token-7"


@pytest.fixture(scope="module")
def modal_app():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RFTKIT_TOOL_TOKEN", TOKEN)
        yield importlib.import_module("tools_service.modal_app")


def test_it_imports_offline_and_defines_the_app(modal_app):
    assert modal_app.app.name == "rftkit-tools"
    assert (modal_app.LOCAL_CORPUS / "reports").is_dir()
    assert len(list(modal_app.LOCAL_CORPUS.rglob("*.md"))) == 160


def test_settings_fit_the_burst_and_modal_limits(modal_app):
    scaling, concurrency = modal_app.AUTOSCALING, modal_app.CONCURRENCY
    assert concurrency["target_inputs"] <= concurrency["max_inputs"]
    assert scaling["min_containers"] >= 1  # a warm container for the first step
    assert scaling["max_containers"] * concurrency["target_inputs"] >= 500 * 2
    assert 2 <= scaling["scaledown_window"] <= 3600
    assert scaling["timeout"] < 150  # Modal's web request limit


def test_local_app_passes_the_same_readiness_check(modal_app, monkeypatch):
    monkeypatch.setenv("RFTKIT_TOOL_TOKEN", TOKEN)
    web_app = modal_app.web.local()
    assert type(web_app).__name__ == "FastAPI"
    with serve_in_background(web_app) as url:
        report = check_endpoint(url, TOKEN, rollouts=10, calls=3)
    assert report.passed, report.text()


def test_local_app_refuses_to_start_without_the_secret(modal_app, monkeypatch):
    monkeypatch.delenv("RFTKIT_TOOL_TOKEN", raising=False)
    with pytest.raises(RuntimeError, match="RFTKIT_TOOL_TOKEN"):
        modal_app.web.local()
