"""Benchmark: the tool service's memory when callers send distinct trace ids with large arguments.

Serves the tool service (default state store, course corpus) in this process and sends
``--traces`` calls, each with a fresh ``trace_id`` and ``--kb`` KB of arguments (one bytes object
reused, so the client holds one copy). Prints this process's VmRSS before and after, and the
store's live traces (and evictions, where the store counts them). Run it on two checkouts:

    PYTHONPATH=/path/to/checkout python benchmarks/tool_state.py [--traces 1000] [--kb 878]
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

import httpx

from rftkit.course.world import generate_world, write_corpus
from rftkit.serving import serve_in_background
from rftkit.toolserver.state import InMemoryStateStore
from tools_service.app import create_app


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=878)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as corpus:
        write_corpus(generate_world(seed=0), corpus, style="compact")
        store = InMemoryStateStore()
        app = create_app(corpus, allow_no_auth=True, store=store)
        arguments = json.dumps({"path": "reports/none.md", "padding": "x" * (args.kb * 1024)})
        with serve_in_background(app) as url, httpx.Client(base_url=url, timeout=60) as client:
            gc.collect()
            before, started = rss_mib(), time.perf_counter()
            for number in range(args.traces):
                call = {"type": "function_call", "call_id": "call_1", "name": "read_file",
                        "arguments": arguments, "trace_id": f"trace_{number}"}  # fmt: skip
                client.post("/call", content=json.dumps(call).encode(),
                            headers={"content-type": "application/json"})  # fmt: skip
            gc.collect()
            after = rss_mib()
    evicted = getattr(store, "evicted_traces", "not counted")
    print(
        f"{args.traces} traces x {args.kb} KB arguments in {time.perf_counter() - started:.0f} s:"
        f" RSS {before:.0f} -> {after:.0f} MB; live traces {len(store)}; evicted {evicted}"
    )


if __name__ == "__main__":
    main()
