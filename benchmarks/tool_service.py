"""Benchmark: the tool service against a bare FastAPI endpoint, under the trainer's burst.

Both servers run in their own process under the same uvicorn settings (one worker, loopback,
access log off); the load comes from this process with :func:`rftkit.endpoints.run_burst` — N
rollouts start at once, 5 calls each, the first alone and then 2 in parallel, with the trainer's
retry-then-discard rule. Each configuration runs ``--repeats`` times in alternating order and the
median is reported, because the machine is shared.

- ``bare``: parses the JSON body and answers the calculator probe (``"n + 1"`` → ``n+1``) by
  string splitting — no auth, no validation, no state, no tool. The floor of FastAPI + uvicorn.
- ``service``: :func:`tools_service.app.create_app` with bearer auth, the wire-format models,
  per-rollout state with replay cache and call log, and the real calculator.

Run: ``python benchmarks/tool_service.py`` (about a minute; load stays on 127.0.0.1).
Target (issue 3): service ≥ 0.8× bare throughput, p99 ≤ 250 ms at 500 rollouts, zero errors.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from fastapi import FastAPI, Request

from rftkit.course.world import generate_world, write_corpus
from rftkit.endpoints import CALCULATOR_PROBE, ToolTarget, run_burst, run_coroutine

TOKEN = "benchmark-token-not-secret"
UVICORN_SETTINGS = [
    "--host",
    "127.0.0.1",
    "--workers",
    "1",
    "--no-access-log",
    "--log-level",
    "warning",
    "--timeout-keep-alive",
    "30",
]


def bare_app() -> FastAPI:
    """The baseline: a FastAPI endpoint that does no work beyond answering the probe."""
    app = FastAPI()

    @app.post("/call")
    async def call(request: Request) -> dict:
        body = await request.json()
        n = int(json.loads(body["arguments"])["expression"].split()[0])
        return {"type": "function_call_output", "call_id": body["call_id"], "output": str(n + 1)}

    return app


def service_app() -> FastAPI:
    from tools_service.app import create_app

    return create_app(os.environ["BENCH_CORPUS"], token=TOKEN)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``uvicorn --factory benchmarks.tool_service:<factory>`` in a child process."""

    def __init__(self, factory: str, corpus: Path) -> None:
        self.port = _free_port()
        root = Path(__file__).resolve().parent.parent
        env = {
            **os.environ,
            "BENCH_CORPUS": str(corpus),
            "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"benchmarks.tool_service:{factory}",
                "--port",
                str(self.port),
                *UVICORN_SETTINGS,
            ],
            env=env,
            cwd=root,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{factory} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def one_burst(url: str, rollouts: int, calls: int) -> dict[str, float]:
    target = ToolTarget("calculator", f"{url}/call", {"Authorization": f"Bearer {TOKEN}"})
    probes = {"calculator": CALCULATOR_PROBE}
    burst = run_coroutine(run_burst([target], probes, rollouts, calls))
    latencies = [a.latency_ms for a in burst.attempts]
    errors = sum(1 for a in burst.attempts if a.status is None or a.status >= 400)
    return {
        "rps": len(burst.attempts) / burst.wall_seconds,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "errors": errors + len(burst.violations),
        "discarded": len(burst.discarded),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    corpus = Path(tempfile.mkdtemp(prefix="bench-corpus-")) / "compact"
    write_corpus(generate_world(seed=0), corpus, style="compact")
    servers = {name: Server(f"{name}_app", corpus) for name in ("bare", "service")}
    rows = []
    try:
        for server in servers.values():
            one_burst(server.url, 50, args.calls)  # warm up connections and code paths
        for rollouts in args.rollouts:
            runs: dict[str, list[dict]] = {name: [] for name in servers}
            for repeat in range(args.repeats):
                order = list(servers) if repeat % 2 == 0 else list(reversed(servers))
                for name in order:
                    runs[name].append(one_burst(servers[name].url, rollouts, args.calls))
            for name, results in runs.items():
                rows.append(
                    {
                        "rollouts": rollouts,
                        "endpoint": name,
                        **{key: statistics.median(r[key] for r in results) for key in results[0]},
                    }
                )
    finally:
        for server in servers.values():
            server.stop()
    print(
        f"{'rollouts':>8} {'endpoint':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'discarded':>9}"
    )
    for row in rows:
        print(
            f"{row['rollouts']:>8} {row['endpoint']:>8} {row['rps']:>8.0f} {row['p50_ms']:>8.1f} "
            f"{row['p99_ms']:>8.1f} {row['errors']:>6.0f} {row['discarded']:>9.0f}"
        )
    print()
    for rollouts in args.rollouts:
        bare, service = (
            next(r for r in rows if r["rollouts"] == rollouts and r["endpoint"] == n)
            for n in ("bare", "service")
        )
        print(
            f"{rollouts} rollouts: service/bare throughput = {service['rps'] / bare['rps']:.2f}x, "
            f"service p99 = {service['p99_ms']:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
