"""Benchmark: a SQLite-backed tool opening its connection per call vs once per thread.

The same ``lookup_order`` tool is served by :func:`tools_service.app.create_app` over real HTTP
(uvicorn on loopback, in a background thread of this process) in three ways:

- ``per call``: the tool opens and closes ``sqlite3.connect`` on every call;
- ``per thread``: ``resources={"db": PerThread(connect)}``, tools on the event loop (one
  connection in all);
- ``per thread, in threads``: the same with ``run_tools_in_threads=True`` (one connection per
  worker thread of the pool).

A second table times the tool alone, called in-process ``--calls`` times (no HTTP), which
isolates what the connection costs.

The load is ``--calls`` calls, ``--concurrency`` at a time, from an ``httpx.AsyncClient`` in this
process (client and server share the GIL, so absolute figures are lower than across processes;
the comparison is the point). Each configuration runs ``--repeats`` times, alternating; the median
is printed.

Run: ``python benchmarks/tool_resources.py`` (about half a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

from rftkit.serving import serve_in_background
from rftkit.toolserver.registry import Toolbox, ToolContext
from rftkit.toolserver.resources import PerThread, Resources
from tools_service.app import create_app

TOKEN = "benchmark-token-not-secret"
ORDERS = 1_000


def make_database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table orders (order_id text primary key, status text, eta text)")
        db.executemany(
            "insert into orders values (?, ?, ?)",
            [(f"A{n}", "shipped", f"2026-12-{1 + n % 28:02d}") for n in range(ORDERS)],
        )
    db.close()


def toolbox_for(path: Path, per_call: bool) -> Toolbox:
    toolbox = Toolbox()

    @toolbox.tool
    def lookup_order(ctx: ToolContext, order_id: str) -> str:
        """Look an order up.

        Args:
            order_id: The order's id.
        """
        query = "select status, eta from orders where order_id = ?"
        if per_call:
            db = sqlite3.connect(path)
            try:
                row = db.execute(query, (order_id,)).fetchone()
            finally:
                db.close()
        else:
            row = ctx.resources["db"].execute(query, (order_id,)).fetchone()
        return f"{order_id}: {row}"

    return toolbox


async def load(url: str, calls: int, concurrency: int) -> tuple[float, int]:
    """Calls per second and the number of non-200 replies."""
    gate = asyncio.Semaphore(concurrency)
    failures = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits) as c:

        async def one(n: int) -> None:
            nonlocal failures
            async with gate:
                body = {
                    "type": "function_call",
                    "call_id": f"c{n}",
                    "name": "lookup_order",
                    "arguments": f'{{"order_id": "A{n % ORDERS}"}}',
                    "trace_id": f"t{n}",
                }
                reply = await c.post(f"{url}/call", json=body)
                failures += reply.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(calls)))
        return calls / (time.perf_counter() - started), failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "orders.db"
        make_database(path)

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(path, check_same_thread=False)

        configurations = {
            "per call": lambda: create_app(toolbox=toolbox_for(path, True), token=TOKEN),
            "per thread": lambda: create_app(
                toolbox=toolbox_for(path, False), resources={"db": PerThread(connect)}, token=TOKEN
            ),
            "per thread, in threads": lambda: create_app(
                toolbox=toolbox_for(path, False),
                resources={"db": PerThread(connect)},
                token=TOKEN,
                run_tools_in_threads=True,
            ),
        }
        results: dict[str, list[float]] = {name: [] for name in configurations}
        failures = dict.fromkeys(configurations, 0)
        for _ in range(args.repeats):
            for name, build in configurations.items():
                with serve_in_background(build()) as url:
                    rate, failed = asyncio.run(load(url, args.calls, args.concurrency))
                results[name].append(rate)
                failures[name] += failed
        in_process = {}
        for name, per_call in (("per call", True), ("per thread", False)):
            tool = toolbox_for(path, per_call)["lookup_order"]
            ctx = ToolContext(resources=Resources({"db": PerThread(connect)}))
            started = time.perf_counter()
            for n in range(args.calls):
                tool(ctx, {"order_id": f"A{n % ORDERS}"})
            in_process[name] = round(args.calls / (time.perf_counter() - started))
    print(pd.Series(in_process, name="tool alone, calls/s").to_frame().to_string(), "\n")
    table = pd.DataFrame(
        {
            "median req/s": {n: round(statistics.median(r)) for n, r in results.items()},
            "runs": {n: len(r) for n, r in results.items()},
            "non-200": failures,
        }
    )
    print(table.to_string())


if __name__ == "__main__":
    main()
