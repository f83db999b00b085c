"""``rftkit demo``: the whole Agent RFT loop on the embedded default (offline, no key, two cores).

Seven stages, in the order a team runs them before and during a real job:

1. build and validate the evaluation dataset (held-out worlds the model never trained on);
2. serve each world's tools over HTTP on loopback (the real tool service, a bearer token each);
3. check the grader (schema, red team) and the endpoints (contract + a burst, as the trainer would);
4. baseline the committed base model: k rollouts per item over HTTP, graded by the latency reward
   with the support term notebook 03 recommends (right, and supported by the figures read, then
   fast as the trainer sees it: ``rftkit.course.rewards.latency_grader_supported``);
5. train it with GRPO on the local jobs backend (its own training worlds, through real tool calls);
6. evaluate the trained model on the same items with the same rollouts;
7. write traces, events, a before/after table and a self-contained HTML report.

Everything it starts (tool services, the training thread) is stopped before it returns.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rftkit.analysis.report import summary_table, write_html_report
from rftkit.course.redteam import cases_from_reference, course_probes
from rftkit.course.rewards import latency_grader_supported
from rftkit.course.session import CourseSession, course_session
from rftkit.course.task import CourseTaskSize, serve_course_task
from rftkit.course.worlds import HELDOUT_SEEDS, world_seeds
from rftkit.data import validate_records
from rftkit.endpoints import check_endpoint
from rftkit.errors import ExitCode
from rftkit.evaluation.redteam import run_redteam
from rftkit.graders import validate_grader
from rftkit.jobs import launch
from rftkit.local.checkpoint import load_model
from rftkit.local.grpo import GRPOConfig
from rftkit.local.policy import LocalModelPolicy
from rftkit.protocol import Trace
from rftkit.rollouts import run_rollouts, save_traces, traces_frame
from rftkit.rollouts.engine import run_blocking
from tools_service.tools import toolbox


@dataclass
class DemoConfig:
    """The demo's knobs; the defaults finish in minutes on two cores."""

    eval_worlds: int = 2
    tasks_per_world: int = 20
    k: int = 2
    readiness_rollouts: int = 50
    seed: int = 0
    course: CourseTaskSize = field(default_factory=CourseTaskSize)  # the training task's size
    grpo: dict[str, Any] = field(default_factory=dict)  # overrides of the mapped GRPO settings

    @classmethod
    def quick(cls) -> DemoConfig:
        """Every stage for real but small (about half a minute): for tests and notebook 00."""
        return cls(
            eval_worlds=1, tasks_per_world=10, k=2, readiness_rollouts=10,
            course=CourseTaskSize(train_worlds=1, train_per_world=4, valid_worlds=1,
                                  valid_per_world=3),
            grpo={"steps": 2, "tasks_per_step": 2, "group_size": 2, "triage_repeats": 2,
                  "eval_interval": 1},
        )  # fmt: skip


@dataclass
class DemoResult:
    summary: pd.DataFrame
    report: Path
    stages: dict[str, float]


@contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    print(f"▶ {name} …", flush=True)
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    print(f"  done in {timings[name]:.1f} s", flush=True)


def _evaluate(
    model: Any,
    tokenizer: Any,
    worlds: list[CourseSession],
    config: DemoConfig,
    sampling: GRPOConfig,
    grader: dict[str, Any],
) -> list[Trace]:
    """k rollouts of every item, all worlds at once so the local policy batches its generation;
    sampled as the job's rollouts are (``sampling``'s temperature and top-p)."""
    policy = LocalModelPolicy(
        model, tokenizer, temperature=sampling.temperature, top_p=sampling.top_p, seed=config.seed
    )

    async def run() -> list[Trace]:
        import asyncio

        runs = [
            run_rollouts(
                w.items,
                policy,
                tools=w.job_tools,
                grader=grader,
                repeats=config.k,
                max_episode_steps=sampling.max_episode_steps,
                progress=False,
            )
            for w in worlds
        ]
        return [t for traces in await asyncio.gather(*runs) for t in traces]

    return run_blocking(run())


def run_demo(out_dir: Path, config: DemoConfig | None = None) -> DemoResult:
    """Run the seven stages, writing everything under ``out_dir``."""
    config = config or DemoConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    sampling = GRPOConfig(**config.grpo)
    grader = latency_grader_supported()
    with ExitStack() as stack:
        with _stage("1/7 dataset: held-out worlds, validated", timings):
            seeds = world_seeds(HELDOUT_SEEDS, config.eval_worlds)
            worlds = [
                stack.enter_context(
                    course_session(
                        seed,
                        style="compact",
                        n=config.tasks_per_world,
                        directory=out_dir / "worlds",
                    )
                )
                for seed in seeds
            ]
            for seed, w in zip(seeds, worlds, strict=True):  # ids unique across worlds
                w.items = [{**i, "task_id": f"w{seed}-{i['task_id']}"} for i in w.items]
            items = [item for w in worlds for item in w.items]
            report = validate_records(items, grader=grader, tool_names=toolbox.names)
            report.raise_for_errors()
            print(f"  {len(items)} items from worlds {seeds}: {report.summary()}")
        with _stage("2/7 tools served over HTTP on loopback", timings):
            for w in worlds:
                print(f"  {w.base_url}  ({len(toolbox)} tools, bearer token)")
        with _stage("3/7 checks: grader and endpoints", timings):
            validate_grader(grader)
            redteam = run_redteam(grader, cases_from_reference(), probes=course_probes())
            print(
                f"  red team: {len(redteam.flagged)} probe(s) paid above the threshold"
                f" ({', '.join(redteam.flagged) or 'none'})"
            )
            token = worlds[0].job_tools[0].headers["Authorization"].removeprefix("Bearer ")
            readiness = check_endpoint(
                worlds[0].base_url, token, rollouts=config.readiness_rollouts, calls=3
            )
            print(f"  endpoint readiness: {'ready' if readiness.passed else 'NOT READY'}")
            if not readiness.passed:
                raise RuntimeError(f"the tool endpoint is not ready: {readiness.failures()}")
        model, tokenizer = load_model()
        with _stage(f"4/7 baseline: base model, {config.k} rollouts per item", timings):
            before = _evaluate(model, tokenizer, worlds, config, sampling, grader)
        with _stage("5/7 training: GRPO on the local backend, the course task", timings):
            course = stack.enter_context(
                serve_course_task(out_dir / "task", config.course, grader=grader)
            )
            job = launch(
                "local",
                course.task,
                env=course.env,
                grpo=config.grpo,
                out_dir=out_dir / "job",
                progress=True,
                skip_preflight=True,  # stage 3 checked the grader and the endpoint
            )
            print(f"  {job.config.steps} steps; task {course.task.content_hash()[:12]}")
            status = job.wait()
            if status != "succeeded":
                raise RuntimeError(f"training job {job.id} ended {status}: {job.error}")
        with _stage("6/7 evaluation: trained model, same items and rollouts", timings):
            after = _evaluate(job.trainer.model, tokenizer, worlds, config, sampling, grader)
    with _stage("7/7 report", timings):
        save_traces(before, out_dir / "traces_before.jsonl")
        save_traces(after, out_dir / "traces_after.jsonl")
        events = job.events()
        with (out_dir / "events.jsonl").open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(e) + "\n" for e in events)
        before_frame, after_frame = traces_frame(before), traces_frame(after)
        summary = summary_table(before_frame, after_frame)
        report = write_html_report(
            out_dir / "report.html",
            title="rftkit demo: local GRPO through real tool calls",
            before=before_frame,
            after=after_frame,
            events=events,
            notes=f"Held-out worlds {seeds}; base model vs after {job.trainer.step} GRPO steps.",
            tools=toolbox.names,
        )
    return DemoResult(summary, report, timings)


def _run(args: argparse.Namespace) -> int:
    config = DemoConfig.quick() if args.quick else DemoConfig()
    if args.steps:
        config.grpo = {**config.grpo, "steps": args.steps}
    started = time.perf_counter()
    result = run_demo(args.out, config)
    print()
    print(result.summary.round(3).to_string())
    print(f"\nreport: {result.report}")
    print(f"wall time: {time.perf_counter() - started:.0f} s")
    return ExitCode.OK


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="run the whole loop offline on the embedded default")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument("--steps", type=int, help="GRPO steps (default: the engine's own)")
    demo.add_argument(
        "--quick", action="store_true", help="the smoke run: every stage for real, at small sizes"
    )
    demo.set_defaults(run=_run)
