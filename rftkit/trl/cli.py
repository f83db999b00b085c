"""``rftkit trl`` (or ``python -m rftkit.trl``): the TRL-on-Modal backend from the shell.

- ``describe --task task.json``: the job that would run and its forecast (offline);
- ``preflight --task task.json``: every check, exit 1 on an error;
- ``fits``: which model sizes fit which GPU layouts, by the memory rule (a markdown table);
- ``course-task --tools-url URL --out DIR``: the course's task (world 0's compact lines, written
  under ``DIR/data``) pointed at a deployed tool service
  (:func:`rftkit.course.task.trl_course_task`);
- ``status|events|checkpoints|cancel JOB_ID``: a launched job (needs a Modal token);
- ``evaluate --task task.json --job JOB_ID``: deploy vLLM serving the job's last checkpoint on
  Modal and run the kit's baseline on the task's validation lines against it; or
  ``--base-url URL/v1 --model NAME`` for a server already running. The key is ``VLLM_API_KEY``.

Training itself is ``modal run --detach -m rftkit.trl.modal_app --task task.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence

from rftkit.errors import ExitCode
from rftkit.task import TASK_FILE, RFTTask
from rftkit.trl.jobspec import TRLJobSpec
from rftkit.trl.options import add_spec_options, spec_from_options


def course_task(tools_url: str, out: str) -> RFTTask:
    """Deprecated: :func:`rftkit.course.task.trl_course_task` (this name goes in the next
    release)."""
    from rftkit.course.task import trl_course_task

    warnings.warn(
        "rftkit.trl.__main__.course_task moved to rftkit.course.task.trl_course_task; the old"
        " name goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return trl_course_task(tools_url, out)


def _spec(args: argparse.Namespace) -> TRLJobSpec:
    return spec_from_options(args)


def _add_actions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    for name in ("describe", "preflight"):
        sub = actions.add_parser(name)
        sub.add_argument("--task", required=True)
        add_spec_options(sub)
    fits = actions.add_parser("fits", help="which Qwen3 sizes fit which H100 layouts (markdown)")
    fits.add_argument("--completions-per-step", type=int, default=64)
    fits.add_argument("--prompt-tokens", type=int, default=2048)
    fits.add_argument("--completion-tokens", type=int, default=4096)
    course = actions.add_parser("course-task")
    course.add_argument("--tools-url", required=True)
    course.add_argument("--out", required=True)
    for name in ("status", "events", "checkpoints", "cancel"):
        actions.add_parser(name).add_argument("job_id")
    evaluate = actions.add_parser("evaluate")
    evaluate.add_argument("--task", required=True)
    evaluate.add_argument("--job", help="a trl-modal job id: serve its last checkpoint")
    evaluate.add_argument("--checkpoint", help="e.g. checkpoint-40 (default: the last)")
    evaluate.add_argument("--base-url", help="an OpenAI-compatible /v1 URL already serving")
    evaluate.add_argument("--model", help="the served model's name (with --base-url)")
    evaluate.add_argument("--k", type=int, default=4)


def register(commands: argparse._SubParsersAction) -> None:
    trl = commands.add_parser("trl", help="TRL's GRPOTrainer on Modal GPUs: describe, fits, jobs")
    _add_actions(trl)
    trl.set_defaults(run=_run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rftkit.trl", description=__doc__.split("\n")[0]
    )
    _add_actions(parser)
    return _run(parser.parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    if args.action in ("describe", "preflight"):
        try:
            _spec(args)
        except ValueError as exc:
            print(f"bad option: {exc}", file=sys.stderr)
            return ExitCode.BAD_INPUT

    if args.action == "describe":
        from rftkit.trl.describe import describe_job

        print(describe_job(RFTTask.load(args.task), _spec(args)).to_string())
    elif args.action == "preflight":
        from rftkit.trl.preflight import preflight

        report = preflight(RFTTask.load(args.task), _spec(args))
        print(report.render())
        return ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED
    elif args.action == "fits":
        from rftkit.trl.describe import fit_table

        print(
            fit_table(
                completions_per_step=args.completions_per_step,
                prompt_tokens=args.prompt_tokens,
                completion_tokens=args.completion_tokens,
            )
        )
    elif args.action == "course-task":
        from rftkit.course.task import trl_course_task  # the course's own task, when asked

        task = trl_course_task(args.tools_url, args.out)
        print(f"wrote {task.root / TASK_FILE}")
    elif args.action == "evaluate":
        from rftkit.trl.evaluate import evaluate_served

        key = os.environ.get("VLLM_API_KEY")
        if not key:
            print("set VLLM_API_KEY to the served endpoint's key", file=sys.stderr)
            return ExitCode.BAD_INPUT
        if args.job:
            from rftkit.trl.backend import ModalUnavailable, TRLModalJob

            try:
                base_url = TRLModalJob.attach(args.job).serve(args.checkpoint)
            except ModalUnavailable as exc:
                print(exc, file=sys.stderr)
                return ExitCode.BAD_INPUT
            model = args.job
        elif args.base_url and args.model:
            base_url, model = args.base_url, args.model
        else:
            print("give --job, or --base-url and --model", file=sys.stderr)
            return ExitCode.BAD_INPUT
        result = evaluate_served(RFTTask.load(args.task), base_url, model, key, k=args.k)
        print(result.summary().to_string())
    else:
        from rftkit.trl.backend import ModalUnavailable, TRLModalJob

        try:
            job = TRLModalJob.attach(args.job_id)
            if args.action == "status":
                print(json.dumps(job.as_job(), indent=2))
            elif args.action == "events":
                for event in job.events():
                    print(event["message"])
            elif args.action == "checkpoints":
                print(json.dumps(job.checkpoints(), indent=2))
            else:
                job.cancel()
                print(f"cancelled {job.id}")
        except ModalUnavailable as exc:
            print(exc, file=sys.stderr)
            return ExitCode.BAD_INPUT
    return ExitCode.OK
