"""The burst load test: N rollouts start at once, as at a training step boundary.

Each simulated rollout has its own ``trace_id`` and makes ``calls`` probe calls, going round the
job's tools — the first on its own, the rest ``parallel`` at a time, as a model issuing parallel
tool calls does. Each call goes to its tool's ``server_url`` with its headers. Failures are
handled exactly as the trainer handles them: a 5xx, a timeout or a dropped connection is retried
up to ``max_retries`` times with the same ``call_id``; if every attempt fails the whole rollout is
discarded. A 4xx is not retried (the model would read it): 401/403 means the job's headers are
refused, a 4xx to a call given as valid is a fault, and a 4xx to arguments generated from a schema
is only counted.

With *scenarios* (stored probes or ``--sequence``: :mod:`rftkit.endpoints.scenarios`) each
rollout instead replays one scenario in turn, call after call under its trace id, so a stateful
tool gets the calls it needs earlier in the same rollout, as on the wire.

Isolation is checked two ways: every reply must carry its own ``call_id`` (and, for a probe whose
answers are known, the answer to *its* question, so a reply meant for another rollout cannot pass),
and, where the service exposes ``GET /traces/{trace_id}``, each rollout's log on each host must
hold exactly the calls it sent there. Every text kept is redacted first.

The load generator is aiohttp rather than httpx: with hundreds of simultaneous connections
httpx's async pool became the bottleneck (about 130 req/s against a bare uvicorn endpoint on
loopback, where aiohttp reached about 1,560 req/s on the same machine), and a tester must measure
the endpoint, not itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from rftkit.endpoints.target import Probe, ToolTarget, new_trace_id
from rftkit.protocol import FunctionCallOutput


@dataclass(frozen=True)
class Attempt:
    """One HTTP request of the burst; ``status`` is None when no response came back."""

    rollout: int
    call: int
    attempt: int
    started_s: float
    latency_ms: float
    status: int | None
    error: str | None = None
    tool: str = ""


@dataclass
class BurstResult:
    """Everything the burst observed; :mod:`rftkit.endpoints.report` turns it into a verdict."""

    rollouts: int
    calls_per_rollout: int
    wall_seconds: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    discarded: dict[int, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    headers_refused: int = 0
    valid_calls_4xx: int = 0
    generated_calls_4xx: int = 0
    trace_log_checked: int = 0


def call_steps(calls: int, parallel: int) -> list[list[int]]:
    """Call indices grouped into steps: one call first, then ``parallel`` at a time."""
    if calls < 1:
        return []
    rest = list(range(1, calls))
    return [[0]] + [rest[i : i + max(1, parallel)] for i in range(0, len(rest), max(1, parallel))]


@dataclass(frozen=True)
class _Plan:
    """What every rollout of the burst does, and how the trainer treats failures."""

    targets: Sequence[ToolTarget]
    probes: dict[str, Probe]
    calls: int
    parallel: int
    max_retries: int
    retry_backoff: float
    redact: Callable[[str], str]
    scenarios: Sequence[Sequence[Probe]] = ()

    def rollout_calls(self, rollout: int) -> list[list[tuple[int, ToolTarget, Probe, str]]]:
        """Rollout ``rollout``'s calls grouped in steps: (call number, target, probe, call_id).
        A scenario's calls all use the rollout's number, so they carry the same item."""
        if self.scenarios:
            by_name = {t.name: t for t in self.targets}
            scenario = self.scenarios[rollout % len(self.scenarios)]
            return [
                [(rollout, by_name[p.name], p, f"call_{rollout}_{i}")]
                for i, p in enumerate(scenario)
            ]
        steps = []
        for step in call_steps(self.calls, self.parallel):
            calls = []
            for i in step:
                n = rollout * self.calls + i
                target = self.targets[n % len(self.targets)]
                calls.append((n, target, self.probes[target.name], f"call_{rollout}_{n}"))
            steps.append(calls)
        return steps


async def _one_call(
    client: aiohttp.ClientSession,
    plan: _Plan,
    result: BurstResult,
    rollout: int,
    call: tuple[int, ToolTarget, Probe, str],
    trace_id: str,
    t0: float,
) -> tuple[ToolTarget, str, str | None]:
    """Send call ``n`` with the trainer's retries; (target, call_id, discard reason or None)."""
    n, target, probe, call_id = call
    body = probe.call(n, trace_id, call_id=call_id)
    content = json.dumps(body).encode()
    headers = target.request_headers()
    reason = "no attempt"
    for attempt in range(plan.max_retries + 1):
        started = time.perf_counter()
        status, error = None, None
        try:
            async with client.post(target.url, data=content, headers=headers) as response:
                status, reply = response.status, await response.read()
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        result.attempts.append(
            Attempt(
                rollout,
                n,
                attempt,
                started - t0,
                (time.perf_counter() - started) * 1000,
                status,
                error,
                target.name,
            )
        )
        if status is not None and status < 500:
            if status in (401, 403):
                result.headers_refused += 1
            elif status >= 400 and probe.generated:
                result.generated_calls_4xx += 1
            elif status >= 400:
                result.valid_calls_4xx += 1
            else:
                expected = probe.expected(n) if probe.expected else None
                _verify_reply(reply, body, expected, trace_id, result, plan.redact)
            return target, body["call_id"], None
        reason = error or f"HTTP {status}"
        if attempt < plan.max_retries:
            await asyncio.sleep(plan.retry_backoff * 2**attempt)
    return target, body["call_id"], f"{target.name}: {reason} on {plan.max_retries + 1} attempts"


def _verify_reply(
    content: bytes,
    body: dict,
    expected: str | None,
    trace_id: str,
    result: BurstResult,
    redact: Callable[[str], str],
) -> None:
    try:
        reply = FunctionCallOutput.model_validate_json(content)
    except ValueError:
        result.violations.append(
            f"{trace_id}: reply to {body['call_id']} ({body['name']}) is not a function_call_output"
        )
        return
    if reply.call_id != body["call_id"] or (expected is not None and reply.output != expected):
        result.violations.append(
            f"{trace_id}: call {body['call_id']} got call_id {redact(reply.call_id)[:40]!r}, "
            f"output {redact(reply.output)[:40]!r}"
            + (f" (expected {expected!r})" if expected is not None else "")
        )


async def _check_trace_logs(
    client: aiohttp.ClientSession,
    sent: dict[tuple[str, str], tuple[ToolTarget, set[str]]],
    result: BurstResult,
    redact: Callable[[str], str],
) -> None:
    """Each rollout's trace log on each host holds exactly its calls (skipped if not exposed)."""
    gate = asyncio.Semaphore(32)

    async def check(target: ToolTarget, trace_id: str, call_ids: set[str]) -> bool:
        url = f"{target.origin}/traces/{trace_id}"
        try:
            async with gate, client.get(url, headers=dict(target.headers)) as got:
                if got.status != 200:
                    return False
                log = await got.json(content_type=None)
            logged = {str(c.get("call_id")) for c in log.get("calls", [])}
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError, TypeError):
            return False
        if logged != call_ids:
            foreign, lost = sorted(logged - call_ids), sorted(call_ids - logged)
            result.violations.append(
                redact(
                    f"{trace_id}: trace log has {len(foreign)} foreign call(s) {foreign[:3]} "
                    f"and misses {len(lost)} {lost[:3]}"
                )
            )
        return True

    keys = list(sent)
    checked = await asyncio.gather(
        *(check(target, trace_id, ids) for (_, trace_id), (target, ids) in sent.items())
    )
    result.trace_log_checked = len(
        {trace for (_, trace), ok in zip(keys, checked, strict=True) if ok}
    )


async def run_burst(
    targets: Sequence[ToolTarget],
    probes: dict[str, Probe],
    rollouts: int = 100,
    calls: int = 5,
    parallel: int = 2,
    max_retries: int = 3,
    retry_backoff: float = 0.05,
    timeout: float = 10.0,
    redact: Callable[[str], str] = str,
    scenarios: Sequence[Sequence[Probe]] = (),
) -> BurstResult:
    """Start ``rollouts`` rollouts at once and return what happened to every request; with
    ``scenarios``, rollout ``r`` replays ``scenarios[r % len]`` (``calls`` is then unused)."""
    plan = _Plan(targets, probes, calls, parallel, max_retries, retry_backoff, redact, scenarios)
    connector = aiohttp.TCPConnector(limit=0)  # no client-side queue: every call goes out now
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as client:
        return await _burst(client, plan, rollouts)


async def _burst(client: aiohttp.ClientSession, plan: _Plan, rollouts: int) -> BurstResult:
    longest = max((len(s) for s in plan.scenarios), default=plan.calls)
    result = BurstResult(rollouts=rollouts, calls_per_rollout=longest)
    sent: dict[tuple[str, str], tuple[ToolTarget, set[str]]] = {}  # (host, trace_id)
    t0 = time.perf_counter()

    async def rollout(r: int) -> None:
        trace_id = new_trace_id()
        mine: dict[tuple[str, str], tuple[ToolTarget, set[str]]] = {}
        for step in plan.rollout_calls(r):
            outcomes = await asyncio.gather(
                *(_one_call(client, plan, result, r, call, trace_id, t0) for call in step)
            )
            for target, call_id, _ in outcomes:
                mine.setdefault((target.origin, trace_id), (target, set()))[1].add(call_id)
            reasons = [reason for _, _, reason in outcomes if reason]
            if reasons:
                result.discarded[r] = reasons[0]
                return
        sent.update(mine)

    await asyncio.gather(*(rollout(r) for r in range(rollouts)))
    result.wall_seconds = time.perf_counter() - t0
    await _check_trace_logs(client, sent, result, plan.redact)
    return result
