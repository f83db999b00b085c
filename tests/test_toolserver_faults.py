"""rftkit.toolserver.faults: a tool service that fails or stalls on purpose, over real HTTP."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from rftkit.course.world import generate_world, write_corpus
from rftkit.endpoints import check_endpoint
from rftkit.serving import serve_in_background
from rftkit.toolserver.faults import FAULT_CODE, Faults, with_faults
from tools_service.app import create_app

TOKEN = secrets.token_urlsafe(16)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = {
    "read_file": {"path": "reports/beltas-machines/2025-Q1.md"},
    "calculator": {"expression": "4134.9 - 4043.9"},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("faults") / "compact"
    write_corpus(generate_world(seed=0), directory, style="compact")
    return directory


def _call(call_id: str, name: str = "calculator", arguments: str = '{"expression": "1 + 1"}'):
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments,
            "trace_id": "trace_faults"}  # fmt: skip


def test_the_attempts_that_fail_are_the_ones_the_seeded_draw_names(corpus: Path) -> None:
    faults = Faults(error_rate=0.5, seed=3)
    app = with_faults(create_app(corpus, token=TOKEN), error_rate=0.5, seed=3)
    with serve_in_background(app) as url:
        for call_id in ("call_a", "call_b", "call_c"):
            for attempt in range(4):  # a retry reuses the call_id, as the trainer's does
                reply = httpx.post(f"{url}/call", json=_call(call_id), headers=AUTH)
                failed = faults.draw("error", call_id, attempt) < 0.5
                assert reply.status_code == (503 if failed else 200), (call_id, attempt)
                if failed:
                    assert reply.json()["error"]["code"] == FAULT_CODE
                else:
                    assert reply.json()["output"] == "2"


def test_only_tool_calls_and_only_the_named_tools_are_touched(corpus: Path) -> None:
    app = with_faults(create_app(corpus, token=TOKEN), error_rate=1.0, tools=["read_file"])
    with serve_in_background(app) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/tools", headers=AUTH).status_code == 200
        assert httpx.post(f"{url}/call", json=_call("c1"), headers=AUTH).status_code == 200
        read = _call("c2", "read_file", '{"path": "reports/beltas-machines/2025-Q1.md"}')
        assert httpx.post(f"{url}/call", json=read, headers=AUTH).status_code == 503
        not_a_call = httpx.post(f"{url}/call", content=b"not json", headers=AUTH)
        assert not_a_call.status_code == 422  # the service's own answer, not an injected 503
    assert app.injected == {"error": 1}


def test_a_flaky_endpoint_loses_the_same_rollouts_on_every_burst(corpus: Path) -> None:
    outcomes = []
    for _ in range(2):
        app = with_faults(create_app(corpus, token=TOKEN), error_rate=0.5, seed=0)
        with serve_in_background(app) as url:
            report = check_endpoint(url, TOKEN, examples=EXAMPLES, rollouts=20, calls=5,
                                    retry_backoff=0.001)  # fmt: skip
        summary = report.burst_summary()
        assert summary["calls retried"] > summary["rollouts discarded"] > 0
        assert not report.passed and any("rollouts discarded" in b for b in report.failures())
        outcomes.append((dict(report.burst.discarded), summary["requests"]))
    assert outcomes[0] == outcomes[1]


def test_a_tool_slower_than_the_timeout_discards_every_rollout_without_an_error(
    corpus: Path,
) -> None:
    app = with_faults(create_app(corpus, token=TOKEN), slow_rate=1.0, delay_s=0.6,
                      tools=["read_file"])  # fmt: skip
    with serve_in_background(app) as url:
        report = check_endpoint(url, TOKEN, examples=EXAMPLES, rollouts=4, calls=5, timeout=0.3,
                                retry_backoff=0.001)  # fmt: skip
    burst = report.burst
    assert len(burst.discarded) == 4
    assert all(reason == "read_file: timeout on 4 attempts" for reason in burst.discarded.values())
    assert not any(a.status is not None and a.status >= 500 for a in burst.attempts)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"error_rate": 1.5}, "error_rate must be in"),
        ({"slow_rate": -0.1}, "slow_rate must be in"),
        ({"delay_s": -1}, "delay_s must be 0 or more"),
        ({"status": 404}, "must be a 5xx"),
    ],
)
def test_bad_settings_are_refused_by_name(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults(**settings)


def test_a_body_over_the_limit_reaches_the_services_own_guard(corpus: Path) -> None:
    from rftkit.protocol import MAX_PAYLOAD_BYTES

    app = with_faults(create_app(corpus, token=TOKEN), error_rate=1.0)
    huge = _call("c_big", arguments='{"expression": "' + "1+" * MAX_PAYLOAD_BYTES + '1"}')
    with serve_in_background(app) as url:
        reply = httpx.post(f"{url}/call", json=huge, headers=AUTH)
    assert reply.status_code == 413  # the service's refusal, not an injected 503
    assert app.injected == {}
