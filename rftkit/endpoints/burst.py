"""The burst load test: N rollouts start at once, as at a training step boundary.

Each simulated rollout has its own ``trace_id`` and makes ``calls`` probe calls — the first on its
own, the rest ``parallel`` at a time, as a model issuing parallel tool calls does. Failures are
handled exactly as the trainer handles them: a 5xx, a timeout or a dropped connection is retried
up to ``max_retries`` times with the same ``call_id``; if every attempt fails the whole rollout is
discarded. A 4xx is not retried (the model would read it); for a probe call it is a fault.

Isolation is checked two ways: every reply must carry its own ``call_id`` and the probe's answer
for *its* question (a reply meant for another rollout cannot pass), and, where the endpoint
exposes ``GET /traces/{trace_id}``, each rollout's log must hold exactly the calls it sent.

The load generator is aiohttp rather than httpx: with hundreds of simultaneous connections
httpx's async pool became the bottleneck (about 130 req/s against a bare uvicorn endpoint on
loopback, where aiohttp reached about 1,560 req/s on the same machine), and a tester must measure
the endpoint, not itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp

from rftkit.endpoints.target import Endpoint, Probe, new_trace_id
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


@dataclass
class BurstResult:
    """Everything the burst observed; :mod:`rftkit.endpoints.report` turns it into a verdict."""

    rollouts: int
    calls_per_rollout: int
    wall_seconds: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    discarded: dict[int, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    unexpected_4xx: int = 0
    trace_log_checked: int = 0


def call_steps(calls: int, parallel: int) -> list[list[int]]:
    """Call indices grouped into steps: one call first, then ``parallel`` at a time."""
    if calls < 1:
        return []
    rest = list(range(1, calls))
    return [[0]] + [rest[i : i + max(1, parallel)] for i in range(0, len(rest), max(1, parallel))]


async def _one_call(
    client: aiohttp.ClientSession,
    endpoint: Endpoint,
    probe: Probe,
    result: BurstResult,
    rollout: int,
    n: int,
    trace_id: str,
    t0: float,
    max_retries: int,
    retry_backoff: float,
) -> tuple[str, str | None]:
    """Send call ``n`` with the trainer's retries; (call_id, discard reason or None)."""
    body = probe.call(n, trace_id, call_id=f"call_{rollout}_{n}")
    content = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **endpoint.headers()}
    reason = "no attempt"
    for attempt in range(max_retries + 1):
        started = time.perf_counter()
        status, error = None, None
        try:
            async with client.post(
                f"{endpoint.url}{endpoint.call_path}", data=content, headers=headers
            ) as response:
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
            )
        )
        if status is not None and status < 500:
            if status >= 400:
                result.unexpected_4xx += 1
            else:
                _verify_reply(reply, body, probe.expected(n), trace_id, result)
            return body["call_id"], None
        reason = error or f"HTTP {status}"
        if attempt < max_retries:
            await asyncio.sleep(retry_backoff * 2**attempt)
    return body["call_id"], f"{reason} on {max_retries + 1} attempts"


def _verify_reply(
    content: bytes, body: dict, expected: str, trace_id: str, result: BurstResult
) -> None:
    try:
        reply = FunctionCallOutput.model_validate_json(content)
    except ValueError:
        result.violations.append(f"{trace_id}: reply to {body['call_id']} is not a valid output")
        return
    if reply.call_id != body["call_id"] or reply.output != expected:
        result.violations.append(
            f"{trace_id}: call {body['call_id']} got call_id {reply.call_id!r}, "
            f"output {reply.output[:40]!r} (expected {expected!r})"
        )


async def _check_trace_logs(
    client: aiohttp.ClientSession,
    endpoint: Endpoint,
    sent: dict[str, set[str]],
    result: BurstResult,
) -> None:
    """Each rollout's trace log must hold exactly its own calls (skipped if not exposed)."""
    gate = asyncio.Semaphore(32)

    async def check(trace_id: str, call_ids: set[str]) -> bool:
        async with (
            gate,
            client.get(f"{endpoint.url}/traces/{trace_id}", headers=endpoint.headers()) as got,
        ):
            if got.status != 200:
                return False
            log = await got.json(content_type=None)
        logged = {c.get("call_id") for c in log.get("calls", [])}
        if logged != call_ids:
            foreign, lost = sorted(logged - call_ids), sorted(call_ids - logged)
            result.violations.append(
                f"{trace_id}: trace log has {len(foreign)} foreign call(s) {foreign[:3]} "
                f"and misses {len(lost)} {lost[:3]}"
            )
        return True

    checked = await asyncio.gather(*(check(t, ids) for t, ids in sent.items()))
    result.trace_log_checked = sum(checked)


async def run_burst(
    endpoint: Endpoint,
    probe: Probe,
    rollouts: int = 100,
    calls: int = 5,
    parallel: int = 2,
    max_retries: int = 3,
    retry_backoff: float = 0.05,
) -> BurstResult:
    """Start ``rollouts`` rollouts at once and return what happened to every request."""
    connector = aiohttp.TCPConnector(limit=0)  # no client-side queue: every call goes out now
    timeout = aiohttp.ClientTimeout(total=endpoint.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        return await _burst(
            client, endpoint, probe, rollouts, calls, parallel, max_retries, retry_backoff
        )


async def _burst(
    client: aiohttp.ClientSession,
    endpoint: Endpoint,
    probe: Probe,
    rollouts: int,
    calls: int,
    parallel: int,
    max_retries: int,
    retry_backoff: float,
) -> BurstResult:
    result = BurstResult(rollouts=rollouts, calls_per_rollout=calls)
    steps = call_steps(calls, parallel)
    sent: dict[str, set[str]] = {}
    t0 = time.perf_counter()

    async def rollout(r: int) -> None:
        trace_id = new_trace_id()
        ids = sent.setdefault(trace_id, set())
        for step in steps:
            outcomes = await asyncio.gather(
                *(
                    _one_call(
                        client,
                        endpoint,
                        probe,
                        result,
                        r,
                        r * calls + i,
                        trace_id,
                        t0,
                        max_retries,
                        retry_backoff,
                    )
                    for i in step
                )
            )
            ids.update(call_id for call_id, _ in outcomes)
            reasons = [reason for _, reason in outcomes if reason]
            if reasons:
                result.discarded[r] = reasons[0]
                del sent[trace_id]
                return

    await asyncio.gather(*(rollout(r) for r in range(rollouts)))
    result.wall_seconds = time.perf_counter() - t0
    await _check_trace_logs(client, endpoint, sent, result)
    return result
