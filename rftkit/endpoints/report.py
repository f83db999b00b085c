"""The readiness verdict: blockers, notes, tables, a plot, and ready or not.

**Ready means no blocker.** Blockers are what cost a training job rollouts or make a tool
unusable (see :mod:`rftkit.endpoints.contract`): refused headers, 5xx or no answer, a reply that is
not a ``function_call_output``, crossed rollouts, discarded rollouts in the burst. Notes are what
the model still sees through — a missing ``/healthz``, mistakes answered 200 with ``"Error: …"``
text, a slow p99 — worth knowing, not worth refusing a job for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rftkit.endpoints.burst import Attempt, BurstResult
from rftkit.endpoints.contract import CheckResult

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure


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
    """What ``rftkit endpoints check`` prints: checks, burst figures, blockers and notes.

    ``setup`` holds findings from before any request (how the probes were made), as
    ``(severity, text)`` pairs. Every text in the report has had its secrets masked.
    """

    contract: list[CheckResult]
    burst: BurstResult | None
    p99_budget_ms: float
    setup: list[tuple[str, str]] = field(default_factory=list)
    redact: Callable[[str], str] = field(default=str, repr=False)

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
            "headers refused (401/403)": burst.headers_refused,
            "4xx on given example calls": burst.valid_calls_4xx,
            "4xx on generated example calls": burst.generated_calls_4xx,
            "isolation violations": len(burst.violations),
            "trace logs checked": burst.trace_log_checked,
        }

    def _findings(self) -> list[tuple[str, str, str]]:
        """(severity, source, text) for every blocker and note, in the order they were found."""
        found = [(severity, "setup", text) for severity, text in self.setup]
        found += [
            (c.outcome, "contract", f"{c.target}: {c.name}: got {c.got} — {c.why}")
            for c in self.contract
            if c.outcome in ("blocker", "note")
        ]
        burst = self.burst
        if burst is not None:
            if burst.discarded:
                example = next(iter(burst.discarded.values()))
                found.append(
                    ("blocker", "burst", f"{len(burst.discarded)} rollouts discarded ({example})")
                )
            if burst.violations:
                found.append(
                    (
                        "blocker",
                        "burst",
                        f"{len(burst.violations)} crossed or malformed "
                        f"replies, e.g. {burst.violations[0]}",
                    )
                )
            if burst.headers_refused:
                found.append(
                    (
                        "blocker",
                        "burst",
                        f"{burst.headers_refused} calls refused the task's headers (401/403)",
                    )
                )
            if burst.valid_calls_4xx:
                found.append(
                    (
                        "blocker",
                        "burst",
                        f"{burst.valid_calls_4xx} calls given as valid were answered 4xx",
                    )
                )
            if burst.generated_calls_4xx:
                found.append(
                    (
                        "note",
                        "burst",
                        f"{burst.generated_calls_4xx} calls with generated example "
                        "arguments were answered 4xx (the model reads those bodies)",
                    )
                )
            p99 = self.burst_summary()["p99_ms"]
            if not p99 <= self.p99_budget_ms:
                found.append(
                    (
                        "note",
                        "burst",
                        f"p99 latency {p99:.0f} ms is over the "
                        f"{self.p99_budget_ms:.0f} ms budget: training steps wait on slow tools",
                    )
                )
        return [(severity, source, self.redact(text)) for severity, source, text in found]

    @property
    def blockers(self) -> list[str]:
        """Why the endpoint is not ready (empty when it is)."""
        return [f"{source}: {text}" for sev, source, text in self._findings() if sev == "blocker"]

    @property
    def notes(self) -> list[str]:
        """Conventions and risks the model or the team should know about; not a refusal."""
        return [f"{source}: {text}" for sev, source, text in self._findings() if sev == "note"]

    @property
    def ok(self) -> bool:
        """No blocker: the one verdict name every report of the kit has."""
        return not self.blockers

    @property
    def ready(self) -> bool:
        """The same as :attr:`ok` (the name generated projects use)."""
        return self.ok

    @property
    def passed(self) -> bool:
        """The same as :attr:`ok` (the name notebook 02 and the demo use)."""
        return self.ok

    def failures(self) -> list[str]:
        """The same as :attr:`blockers` (the name notebook 02 and the demo use)."""
        return self.blockers

    def findings_table(self) -> pd.DataFrame:
        """One row per blocker and note: severity, where it was found, what it costs."""
        rows = [
            {
                "severity": sev.upper() if sev == "blocker" else sev,
                "source": source,
                "finding": text,
            }
            for sev, source, text in self._findings()
        ]
        return pd.DataFrame(rows, columns=["severity", "source", "finding"])

    def contract_table(self) -> pd.DataFrame:
        """One row per contract check: the tool or URL, pass/note/BLOCKER/skip, what came back."""
        rows = [
            {
                "check": c.name,
                "tool": c.target,
                "result": "BLOCKER" if c.outcome == "blocker" else c.outcome,
                "expected": c.expected,
                "got": c.got[:70],
            }
            for c in self.contract
        ]
        return pd.DataFrame(rows, columns=["check", "tool", "result", "expected", "got"])

    def burst_table(self) -> pd.DataFrame:
        rows = [
            {"metric": k, "value": f"{v:.1f}" if isinstance(v, float) else str(v)}
            for k, v in self.burst_summary().items()
        ]
        return pd.DataFrame(rows, columns=["metric", "value"])

    def text(self) -> str:
        """The plain-text report: contract table, burst table, verdict, blockers, notes."""
        parts = ["contract", self.contract_table().to_string(index=False)]
        if self.burst is not None:
            parts += ["", "burst", self.burst_table().to_string(index=False)]
        blockers, notes = self.blockers, self.notes
        parts += ["", "READY" if self.ready else "NOT READY"]
        if blockers:
            parts += [f"BLOCKERS ({len(blockers)})", *(f"  - {b}" for b in blockers)]
        if notes:
            parts += [f"NOTES ({len(notes)})", *(f"  - {n}" for n in notes)]
        return self.redact("\n".join(parts))

    def plot(self) -> Figure:
        """Latency distribution with percentiles, and latency over the burst coloured by status."""
        import matplotlib.pyplot as plt  # a second of start-up that only a plot needs

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
        attempts = self.burst.attempts if self.burst else []
        latencies = np.array([a.latency_ms for a in attempts])
        if latencies.size:
            left.hist(latencies, bins=40, color="#4c72b0")
            styles = {"p50_ms": ":", "p95_ms": "--", "p99_ms": "-."}
            for name, value in latency_percentiles(list(latencies)).items():
                label = f"{name.removesuffix('_ms')} {value:.0f} ms"
                left.axvline(value, linestyle=styles[name], color="#333333", label=label)
            _budget_line(left, self.p99_budget_ms, float(latencies.max()))
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


def _budget_line(ax: plt.Axes, budget_ms: float, slowest_ms: float) -> None:
    """The p99 budget as a line when it falls near the data; far beyond it, as a note.

    A 2 s budget over 50 ms requests would squash the histogram into a sliver of its axis.
    """
    if budget_ms <= 1.5 * slowest_ms:
        ax.axvline(budget_ms, color="#c44e52", linewidth=1.5, label="p99 budget")
        return
    label = f"p99 budget {budget_ms:.0f} ms (→ off axis)"
    ax.plot([], [], color="#c44e52", linewidth=1.5, label=label)
    ax.set_xlim(0, slowest_ms * 1.05)


def _ok(attempt) -> bool:
    return attempt.status is not None and attempt.status < 500
