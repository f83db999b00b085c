"""``rftkit demo``: the main job on the embedded default (offline, no key, two CPU cores).

Today it builds the course world and exercises every tool on a real task; each later stage of the
loop (dataset validation, tool service over HTTP, baseline, training, report) joins it as it lands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rftkit.world import generate_tasks, generate_world
from rftkit.world_cli import write_world
from tools_service.corpus import Corpus
from tools_service.registry import ToolContext
from tools_service.tools import toolbox


def run_demo(out_dir: Path, seed: int = 0) -> dict[str, object]:
    """Write the world under ``out_dir`` and answer one task with the tools; return a summary."""
    summary = write_world(out_dir / "world", seed=seed)
    world = generate_world(seed=seed)
    task = next(t for t in generate_tasks(world, seed=seed) if t.task_type == "growth")
    corpus = Corpus.load(out_dir / "world" / "compact")
    ctx = ToolContext(corpus=corpus, trace_id="trace_demo")
    slug = world.company(task.company_ids[0]).slug
    metric = next(
        m
        for m in ("revenue", "headcount", "operating income", "net income")
        if m in task.question.lower()
    )
    figures = []
    for quarter in task.quarters:
        hit = toolbox["search"](ctx, {"query": f"{slug} {quarter} {metric}", "top_k": 1})
        figures.append(hit.rsplit(" ", 1)[-1])
    old, new = figures
    answer = toolbox["calculator"](ctx, {"expression": f"round(({new} - {old}) * 100 / {old}, 1)"})
    return {
        **summary,
        "tool_smoke_run": {
            "question": task.question,
            "figures_found": figures,
            "answer": answer,
            "expected": task.answer,
            "correct": answer == task.answer,
        },
    }


def _run(args: argparse.Namespace) -> int:
    summary = run_demo(args.out, seed=args.seed)
    print(json.dumps(summary, indent=2))
    return 0 if summary["tool_smoke_run"]["correct"] else 1


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="run the main job offline on the embedded default")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_run)
