"""Is a tool endpoint ready for a training job? A contract check and a burst load test.

Works on any endpoint that speaks the Agent RFT wire format — local, on Modal, anywhere — because
it only needs a URL, a token and one probe call whose answer it can compute. Run it before paying
for a job: a 5xx under a burst, a leak between rollouts or a slow tool costs discarded or
zero-reward rollouts, which collapse training.

Example::

    report = check_endpoint("http://127.0.0.1:8000", token=os.environ["RFTKIT_TOOL_TOKEN"],
                            rollouts=100, calls=5)
    print(report.text()); report.plot()
    assert report.passed
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from rftkit.background import BackgroundLoop
from rftkit.endpoints.burst import Attempt, BurstResult, run_burst
from rftkit.endpoints.contract import CheckResult, check_contract
from rftkit.endpoints.report import ReadinessReport
from rftkit.endpoints.target import CALCULATOR_PROBE, Endpoint, Probe

__all__ = [
    "CALCULATOR_PROBE",
    "Attempt",
    "BurstResult",
    "CheckResult",
    "Endpoint",
    "Probe",
    "ReadinessReport",
    "check_endpoint",
    "run_burst",
    "run_coroutine",
]

T = TypeVar("T")


_loop = BackgroundLoop("rftkit-endpoints")


def check_endpoint(
    base_url: str,
    token: str | None = None,
    *,
    probe: Probe = CALCULATOR_PROBE,
    rollouts: int = 100,
    calls: int = 5,
    parallel: int = 2,
    p99_budget_ms: float = 1000.0,
    timeout: float = 10.0,
    max_retries: int = 3,
    retry_backoff: float = 0.05,
    call_path: str = "/call",
    tool_path: str = "/tools/{name}",
) -> ReadinessReport:
    """Contract check, then a burst of ``rollouts`` simultaneous rollouts; the verdict.

    ``rollouts=0`` runs the contract check only. ``timeout`` is per request; a timed-out request
    is retried like a 5xx, as the trainer does, after ``retry_backoff`` × 2**attempt seconds.
    """
    endpoint = Endpoint(base_url, token, call_path, tool_path, timeout)

    async def run() -> ReadinessReport:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            contract = await check_contract(client, endpoint, probe)
        burst = None
        if rollouts > 0:
            burst = await run_burst(
                endpoint, probe, rollouts, calls, parallel, max_retries, retry_backoff
            )
        return ReadinessReport(contract, burst, p99_budget_ms)

    return run_coroutine(run())


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` from sync code, also inside a running loop (Jupyter)."""
    return _loop.run(coroutine)
