"""CPU seconds each ``rftkit`` command costs before and while it does its (small) work.

Every command runs as a subprocess, ``--repeats`` times; the figure is the median of the child's
user + system CPU time (``resource.getrusage(RUSAGE_CHILDREN)``), which another process on the
machine does not inflate the way it inflates wall time. ``--baseline TREE`` runs the same commands
with another checkout's ``rftkit`` first on ``PYTHONPATH`` (e.g. a clone at the commit before the
lazy imports) and prints the ratio.

    python benchmarks/cli_start.py --baseline /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINE = {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "reference_answer": "4"}


def commands(folder: Path) -> dict[str, list[str]]:
    """The commands measured, with the small files they read written under ``folder``."""
    plain = folder / "plain.jsonl"
    plain.write_text((json.dumps(LINE) + "\n") * 12)
    with_tools = folder / "with_tools.jsonl"
    tools = [{"type": "function", "function": {"name": "calculator", "parameters": {
        "type": "object", "properties": {"expression": {"type": "string"}}}}}]  # fmt: skip
    with_tools.write_text((json.dumps({**LINE, "tools": tools}) + "\n") * 12)
    return {
        "rftkit --help": ["--help"],
        "rftkit jobs --help": ["jobs", "--help"],
        # A closed loopback port: the whole start, the client built, the request refused.
        "rftkit jobs status (refused URL)": [
            "jobs",
            "status",
            "ftjob-x",
            "--backend",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ],
        "rftkit data validate (12 lines)": ["data", "validate", str(plain)],
        "rftkit data validate (12 lines, tools)": ["data", "validate", str(with_tools)],
    }


def cpu_seconds(tree: Path, argv: list[str], repeats: int, cwd: Path) -> float:
    """Run from ``cwd`` (not a checkout: ``-m`` would import the working directory's rftkit)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENAI_API_KEY": "sk-benchmark-not-a-key"}
    samples = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "rftkit", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
            cwd=cwd,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows = []
        for name, argv in commands(Path(scratch)).items():
            now = cpu_seconds(REPO, argv, args.repeats, Path(scratch))
            base = None
            if args.baseline:
                base = cpu_seconds(args.baseline.resolve(), argv, args.repeats, Path(scratch))
            rows.append((name, now, base))
    width = max(len(name) for name, _, _ in rows)
    header = f"{'command':<{width}}  {'CPU s':>7}"
    if args.baseline:
        header += f"  {'baseline':>8}  {'ratio':>6}"
    print(header)
    for name, now, base in rows:
        line = f"{name:<{width}}  {now:7.2f}"
        if base is not None:
            line += f"  {base:8.2f}  {base / now:5.1f}x"
        print(line)
    print(f"(median of {args.repeats} runs, user + system CPU of the child process)")


if __name__ == "__main__":
    main()
