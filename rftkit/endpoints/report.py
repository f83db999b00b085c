"""The readiness verdict: contract results and burst figures as tables, a plot, and pass/fail.

An endpoint is ready when every contract check passes and the burst had no discarded rollout,
no isolation violation, no 4xx for a valid call, and a p99 latency within budget. Any of those
would cost a training job zero-reward or discarded rollouts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rftkit.endpoints.burst import Attempt, BurstResult
from rftkit.endpoints.contract import CheckResult


def latency_percentiles(latencies_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds (NaN when there is nothing to measure)."""
    if not latencies_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99)}


def status_counts(burst: BurstResult) -> dict[str, int]:
    """Requests by outcome: HTTP status, or the transport error that replaced it."""
    counts = Counter(str(a.status) if a.status is not None else a.error for a in burst.attempts)
    return dict(sorted(counts.items()))


@dataclass
class ReadinessReport:
    """What ``rftkit endpoints check`` prints: contract table, burst table, plot, verdict."""

    contract: list[CheckResult]
    burst: BurstResult | None
    p99_budget_ms: float

    def burst_summary(self) -> dict[str, float | int | str]:
        burst = self.burst
        if burst is None:
            return {}
        answered_first_try = sum(1 for a in burst.attempts if a.attempt == 0 and _ok(a))
        retried = Counter((a.rollout, a.call) for a in burst.attempts if a.attempt > 0)
        return {
            "rollouts": burst.rollouts,
            "calls per rollout": burst.calls_per_rollout,
            "requests": len(burst.attempts),
            "throughput_rps": len(burst.attempts) / burst.wall_seconds if burst.wall_seconds else 0,
            **latency_percentiles([a.latency_ms for a in burst.attempts]),
            "status counts": ", ".join(f"{k}: {v}" for k, v in status_counts(burst).items()),
            "calls answered first try": answered_first_try,
            "calls retried": len(retried),
            "rollouts discarded": len(burst.discarded),
            "4xx on valid calls": burst.unexpected_4xx,
            "isolation violations": len(burst.violations),
            "trace logs checked": burst.trace_log_checked,
        }

    def failures(self) -> list[str]:
        """Why the endpoint is not ready (empty when it is)."""
        reasons = [
            f"contract: {c.name} (expected {c.expected}, got {c.got})"
            for c in self.contract
            if c.passed is False
        ]
        burst = self.burst
        if burst is not None:
            if burst.discarded:
                example = next(iter(burst.discarded.values()))
                reasons.append(f"burst: {len(burst.discarded)} rollouts discarded ({example})")
            if burst.violations:
                reasons.append(f"isolation: {burst.violations[0]}")
            if burst.unexpected_4xx:
                reasons.append(f"burst: {burst.unexpected_4xx} valid calls answered 4xx")
            p99 = self.burst_summary()["p99_ms"]
            if not p99 <= self.p99_budget_ms:
                reasons.append(
                    f"latency: p99 {p99:.0f} ms over the {self.p99_budget_ms:.0f} ms budget"
                )
        return reasons

    @property
    def passed(self) -> bool:
        return not self.failures()

    def contract_table(self) -> pd.DataFrame:
        rows = [
            {
                "check": c.name,
                "result": {True: "pass", False: "FAIL", None: "skip"}[c.passed],
                "expected": c.expected,
                "got": c.got[:70],
            }
            for c in self.contract
        ]
        return pd.DataFrame(rows, columns=["check", "result", "expected", "got"])

    def burst_table(self) -> pd.DataFrame:
        rows = [
            {"metric": k, "value": f"{v:.1f}" if isinstance(v, float) else str(v)}
            for k, v in self.burst_summary().items()
        ]
        return pd.DataFrame(rows, columns=["metric", "value"])

    def text(self) -> str:
        parts = ["contract", self.contract_table().to_string(index=False)]
        if self.burst is not None:
            parts += ["", "burst", self.burst_table().to_string(index=False)]
        verdict = "READY" if self.passed else "NOT READY"
        parts += ["", verdict, *(f"  - {reason}" for reason in self.failures())]
        return "\n".join(parts)

    def plot(self) -> Figure:
        """Latency distribution with percentiles, and latency over the burst coloured by status."""
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
        attempts = self.burst.attempts if self.burst else []
        latencies = np.array([a.latency_ms for a in attempts])
        if latencies.size:
            left.hist(latencies, bins=40, color="#4c72b0")
            styles = {"p50_ms": ":", "p95_ms": "--", "p99_ms": "-."}
            for name, value in latency_percentiles(list(latencies)).items():
                label = f"{name.removesuffix('_ms')} {value:.0f} ms"
                left.axvline(value, linestyle=styles[name], color="#333333", label=label)
            left.axvline(self.p99_budget_ms, color="#c44e52", linewidth=1.5, label="p99 budget")
            left.legend(loc="best", fontsize=8)
            by_status: dict[str, list[Attempt]] = {}
            for a in attempts:
                by_status.setdefault(str(a.status or a.error), []).append(a)
            for status, group in sorted(by_status.items()):
                right.scatter(
                    [a.started_s for a in group],
                    [a.latency_ms for a in group],
                    s=6,
                    label=status,
                    alpha=0.6,
                )
            right.legend(title="status", fontsize=8, markerscale=2)
        left.set(title="latency per request", xlabel="ms", ylabel="requests")
        right.set(title="latency during the burst", xlabel="seconds since start", ylabel="ms")
        fig.tight_layout()
        return fig


def _ok(attempt) -> bool:
    return attempt.status is not None and attempt.status < 500
