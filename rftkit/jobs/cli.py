"""``rftkit jobs``: preflight, forecast, launch and follow training jobs from the command line.

Exit codes (for scripts):

====  =========================================================================================
0     done: checks passed, job launched or found, job succeeded (``watch``/local ``launch``)
1     preflight found errors (nothing launched), or the job ended failed or cancelled
2     bad input: arguments, task file, a missing environment variable or credential
3     the platform refused or failed a request (wind-down refusal, 4xx, 429, 5xx, unreachable)
4     ``watch`` ended with the job paused
130   interrupted
====  =========================================================================================

Every command that talks to a platform takes ``--timeout SECONDS`` (default 120): the longest
it waits for any one request, retries included. While it waits it says so on stderr every few
seconds, and a request that gets no answer in time ends the command with a message that names the
timeout (exit 3). Waiting for uploaded files to be processed has its own limit (10 minutes).

Credentials come from the environment only (``OPENAI_API_KEY``; ``AZURE_OPENAI_ENDPOINT`` and
``AZURE_OPENAI_API_KEY``, or ``AZURE_AI_PROJECT_ENDPOINT``), never from the command line; header
values the task references come from the environment too and are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tqdm.auto import tqdm

from rftkit.errors import ExitCode
from rftkit.jobs import launch
from rftkit.jobs.backend import (
    BACKENDS,
    Backend,
    BackendUnavailable,
    Job,
    backend_options,
    get_backend,
)
from rftkit.task import RFTTask, TaskSecretError

OK, CHECKS_FAILED, BAD_INPUT = ExitCode.OK, ExitCode.CHECKS_FAILED, ExitCode.BAD_INPUT
PLATFORM_ERROR, PAUSED = ExitCode.PLATFORM_ERROR, ExitCode.PAUSED
# The backends this command drives (rftkit.jobs.backend.BACKENDS), every one through the
# Backend and Job protocols. Without a Modal token, launching and reading trl-modal jobs exit 2
# saying what to do.


class _Usage(Exception):
    """Bad input: printed as it is, exit 2."""


def _task(args: argparse.Namespace) -> RFTTask:
    if args.task is None:
        raise _Usage("--task FILE is needed")
    return RFTTask.load(args.task)


def _client(args: argparse.Namespace) -> Any:
    if args.backend == "local":
        return None
    from rftkit.jobs.hosted.clients import base_url_for, client_for

    url, source = base_url_for(args.backend, args.base_url)
    client = client_for(args.backend, args.base_url)
    _say(f"{args.backend}: API at {url or client.base_url} ({source})")
    return client


def _say(line: str) -> None:
    """A progress line on stderr (stdout keeps the command's result)."""
    print(line, file=sys.stderr, flush=True)


def _timeout(args: argparse.Namespace) -> float:
    from rftkit.jobs.hosted.api import DEFAULT_TIMEOUT

    return args.timeout or DEFAULT_TIMEOUT


def _baseline(args: argparse.Namespace) -> Any:
    if args.baseline is None:
        return None
    # pandas and matplotlib: only when asked
    from rftkit.evaluation.baseline import baseline_from_traces
    from rftkit.rollouts.traces import load_traces

    return baseline_from_traces(load_traces(args.baseline))


def _backend(args: argparse.Namespace) -> Backend:
    """The backend the command names, built from its options (a client for a hosted one, the
    job spec for trl-modal)."""
    if args.backend in ("openai", "azure"):
        return get_backend(
            args.backend, client=_client(args), timeout=_timeout(args), progress=_say
        )
    if args.backend == "trl-modal":  # commands on a job id take no spec options
        return get_backend(args.backend, **backend_options(args.backend).from_options(args))
    return get_backend(args.backend)


def _open_job(args: argparse.Namespace) -> Job:
    return _backend(args).open(args.job_id)


def _metrics(event: dict[str, Any]) -> dict[str, Any]:
    return event.get("data") or {} if event.get("type") == "metrics" else {}


def follow(job: Job, poll: float | None, out: Any = None) -> str:
    """Show a progress bar over the job's steps with the latest reward, until the job stops."""
    out = out or sys.stdout
    bar = tqdm(total=None, unit="step", file=out, dynamic_ncols=False, ncols=100)

    def show(event: dict[str, Any]) -> None:
        data = _metrics(event)
        if "step" in data:
            bar.total = data.get("total_steps") or bar.total
            bar.n = int(data["step"])
            reward = data.get("train_mean_reward", data.get("reward/train_mean"))
            if reward is not None:
                bar.set_postfix(reward=f"{float(reward):.3f}", refresh=False)
            bar.refresh()
        elif event.get("message"):
            bar.write(f"[{event.get('level', 'info')}] {event['message']}", file=out)

    try:
        return job.watch(show, poll)
    finally:
        bar.close()


def _exit_for(status: str) -> int:
    if status == "succeeded":
        return OK
    return PAUSED if status == "paused" else CHECKS_FAILED


# -- commands ---------------------------------------------------------------------------------
def _checks(args: argparse.Namespace) -> dict[str, Any]:
    """The preflight options a command was given, for a backend that takes them."""
    if args.backend == "trl-modal":
        if args.probe or args.sequence:
            raise ValueError(
                "--probe/--sequence: the trl-modal preflight does not call the tools (the job "
                "reaches them from Modal); check them with rftkit endpoints check URL --probe …"
            )
        return {}
    from rftkit.endpoints.cli import parse_probes, parse_sequences

    return {
        "baseline": _baseline(args),
        "budget_usd": args.budget,
        "readiness_rollouts": args.rollouts,
        "probes": parse_probes(args.probe or []),
        "sequences": parse_sequences(args.sequence or []),
    }


def _run_preflight(args: argparse.Namespace) -> int:
    report = _backend(args).preflight(_task(args), **_checks(args))
    print(report.render())
    return OK if report.ok else CHECKS_FAILED


def _run_forecast(args: argparse.Namespace) -> int:
    from rftkit.jobs.forecast import compare

    task = _task(args)
    backend = _backend(args)
    baseline = None if args.backend == "trl-modal" else _baseline(args)
    fc = backend.forecast(task, baseline=baseline)
    print(fc.text())
    if args.job_id:
        print("\nforecast next to actual")
        table = compare(fc, backend.open(args.job_id))
        print(table.to_string())
        print(f"billed time: {table.attrs['billed_time']}")
    return OK


def _run_launch(args: argparse.Namespace) -> int:
    task = _task(args)
    options: dict[str, Any] = {"force": True} if args.new else {}
    if args.warm_start:
        if args.backend != "local":
            raise _Usage(f"--warm-start is for the local backend, not {args.backend}")
        from rftkit.local.warmstart import load_solver

        options["warm_start"] = load_solver(args.warm_start)  # a bad name stops us here
    backend = _backend(args)
    report = backend.preflight(task, **_checks(args))
    print(report.render())
    if not report.ok and not args.force:
        print("not launched: fix the errors above, or pass --force to launch anyway")
        return CHECKS_FAILED
    job = launch(backend, task, skip_preflight=True, **options)
    if args.backend == "local":  # the job lives in this process: follow it to its end
        print(f"job {job.id} (local) started")
        return _exit_for(follow(job, poll=None))
    reused = getattr(job, "reused", False)
    said = "already launched from this task (pass --new for another)" if reused else "created"
    print(f"job {job.id} on {args.backend}: {said}; status {job.as_job().get('status')}")
    if getattr(job, "launch_note", None):
        print(f"note: {job.launch_note}")
    if getattr(job, "same_task", None):
        listed = ", ".join(f"{j['id']} ({j['status']})" for j in job.same_task)
        print(f"jobs from this task on {args.backend} now: {len(job.same_task)}: {listed}")
    return OK


def _run_status(args: argparse.Namespace) -> int:
    from rftkit.jobs.hosted.errors import job_failure
    from rftkit.secrets import mask_headers

    job = _open_job(args)
    record = mask_headers(job.as_job())
    print(f"{job.id}: {record.get('status')}")
    if record.get("status") == "failed":
        print(f"error: {job_failure(record)}")
    print(json.dumps(record, indent=2))
    return OK


def _run_events(args: argparse.Namespace) -> int:
    for event in _open_job(args).events():
        print(f"{event.get('created_at')} {event.get('level', 'info'):5} {event.get('message')}")
    return OK


def _run_watch(args: argparse.Namespace) -> int:
    from rftkit.jobs.hosted.errors import job_failure

    job = _open_job(args)
    status = follow(job, poll=args.poll)
    if status == "failed":
        print(f"job {job.id} failed: {job_failure(job.as_job())}")
    elif status != "succeeded":
        print(f"job {job.id}: {status}")
    return _exit_for(status)


MANAGEMENT_TOKEN = "AZURE_MANAGEMENT_TOKEN"


def _resource_of(url: str | None) -> str | None:
    """``RES`` of ``https://RES.openai.azure.com/...`` (and the other Azure AI host names)."""
    host = urlsplit(url or "").hostname or ""
    for suffix in (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"):
        if host.endswith(suffix):
            return host.removesuffix(suffix)
    return None


def _run_deploy(args: argparse.Namespace) -> int:
    if args.backend != "azure":
        raise _Usage(
            "only Azure needs a deployment: on OpenAI a fine-tuned model answers by its id "
            "(evaluate it with model=<fine_tuned_model>)"
        )
    from rftkit.jobs.hosted.deploy import ARM, deploy, deployment_for

    job = _open_job(args)
    url = str(job.api.client.base_url)
    resource = args.resource or _resource_of(url)
    if resource is None:
        raise _Usage(f"--resource is needed (it cannot be read from {url})")
    plan = deployment_for(
        job.as_job(),
        subscription=args.subscription,
        resource_group=args.resource_group,
        resource=resource,
        name=args.deployment_name,
        checkpoint=args.checkpoint,
        sku=args.sku,
    )
    print(f"deploy {plan.model} as {plan.name}: {plan.cost_text()}")
    print("\nthe request (Azure Resource Manager):\n" + plan.request_text())
    print("\nor with the Azure CLI:\n" + plan.az_command())
    print(
        f"\nthen evaluate it by its deployment name: model={plan.name!r} at {url} (the "
        "fine-tuned model id itself answers nothing)"
    )
    if not args.apply:
        print(f"\nnot deployed: pass --apply with {MANAGEMENT_TOKEN} set to send the request")
        return OK
    token = os.environ.get(MANAGEMENT_TOKEN)
    if not token:
        raise _Usage(f"--apply needs {MANAGEMENT_TOKEN} (az account get-access-token)")
    found = deploy(plan, token, management=args.management_url or ARM, progress=_say)
    state = (found.get("properties") or {}).get("provisioningState")
    print(f"\ndeployment {plan.name}: {state}; hosting is billed from now until it is deleted")
    return OK


def _run_action(args: argparse.Namespace) -> int:
    job = getattr(_open_job(args), args.action)()
    print(f"{job.id}: {job.as_job().get('status')}")
    return OK


def _guarded(command: Any) -> Any:
    """Run ``command``; bad input and platform errors become a message and an exit code."""

    def run(args: argparse.Namespace) -> int:
        # The openai SDK (about half a CPU-second) is imported when a command runs, not for --help.
        from rftkit.jobs.hosted import HostedJobError
        from rftkit.jobs.hosted.request import secret_values
        from rftkit.secrets import mask

        secrets: list[str] = []
        try:
            if getattr(args, "task", None) is not None:
                secrets = secret_values(RFTTask.load(args.task), None)
        except (ValueError, TaskSecretError):
            pass  # the command itself reports the task's problem
        try:
            return command(args)
        except HostedJobError as exc:
            print(mask(str(exc), secrets), file=sys.stderr)
            return PLATFORM_ERROR
        except (_Usage, TaskSecretError, ValueError, ImportError, FileNotFoundError) as exc:
            print(mask(str(exc), secrets), file=sys.stderr)
            return BAD_INPUT
        except (BackendUnavailable, NotImplementedError) as exc:
            print(mask(str(exc), secrets), file=sys.stderr)  # no Modal token; TRL cannot pause
            return BAD_INPUT

    return run


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    jobs = commands.add_parser(
        "jobs", help="preflight, forecast, launch and follow training jobs (exit codes: see docs)"
    )
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser, task: bool = True) -> None:
        if task:
            parser.add_argument("--task", type=Path, help="the task file (task.json)")
        parser.add_argument("--backend", choices=BACKENDS, default="local")
        parser.add_argument(
            "--base-url",
            help="the platform's API URL: for azure the resource URL (https://RES.openai.azure.com)"
            " or its /openai/v1/ URL; or a local server",
        )
        parser.add_argument(
            "--timeout",
            type=_seconds,
            help="seconds to wait for any one request, retries included (default 120)",
        )

    def trl(parser: argparse.ArgumentParser) -> None:
        backend_options("trl-modal").add_options(parser.add_argument_group("trl-modal only"))

    def checks(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--baseline", type=Path, help="a baseline's traces (JSONL)")
        parser.add_argument("--budget", type=float, help="USD; a forecast over it is an error")
        parser.add_argument("--rollouts", type=int, default=10, help="tool readiness burst size")
        parser.add_argument(
            "--probe",
            action="append",
            metavar="NAME='{...}'",
            help="arguments for a tool that must succeed (besides the task's stored probes)",
        )
        parser.add_argument(
            "--sequence",
            action="append",
            metavar="'[{\"name\": ..., \"arguments\": {...}}, ...]'",
            help="calls replayed in order under one trace id, for tools that need earlier calls",
        )

    pre = actions.add_parser("preflight", help="every check before a job; exit 1 on errors")
    common(pre)
    checks(pre)
    trl(pre)
    pre.set_defaults(run=_guarded(_run_preflight))

    fc = actions.add_parser("forecast", help="steps, tool traffic, time and cost of a job")
    common(fc)
    fc.add_argument("--baseline", type=Path, help="a baseline's traces (JSONL)")
    fc.add_argument("--job-id", help="a job of this task: show the forecast next to actual")
    trl(fc)
    fc.set_defaults(run=_guarded(_run_forecast))

    go = actions.add_parser("launch", help="preflight, then launch (idempotent on hosted)")
    common(go)
    checks(go)
    go.add_argument("--force", action="store_true", help="launch despite preflight errors")
    go.add_argument("--new", action="store_true", help="a new job even if one was launched")
    go.add_argument(
        "--warm-start",
        metavar="MODULE:FUNCTION",
        help="local: warm-start a small model from this reference solver (e.g. "
        "my_agent.solver:solve) by calling the task's tools, then GRPO (a rehearsal)",
    )
    trl(go)
    go.set_defaults(run=_guarded(_run_launch))

    for name, run, text in (
        ("status", _run_status, "the job's status and record"),
        ("events", _run_events, "the job's events in order"),
        ("watch", _run_watch, "a progress bar and the reward until the job stops"),
        ("pause", _run_action, "pause the job"),
        ("resume", _run_action, "resume the job"),
        ("cancel", _run_action, "cancel the job"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("job_id")
        common(parser, task=False)
        if name == "watch":
            parser.add_argument("--poll", type=float, default=30.0, help="seconds between reads")
        parser.set_defaults(run=_guarded(run))

    dep = actions.add_parser(
        "deploy", help="Azure: deploy the fine-tuned model (prints the request; --apply sends it)"
    )
    dep.add_argument("job_id")
    common(dep, task=False)
    dep.add_argument("--subscription", required=True, help="the Azure subscription id")
    dep.add_argument("--resource-group", required=True)
    dep.add_argument("--resource", help="the Azure OpenAI resource (default: from the base URL)")
    dep.add_argument("--deployment-name", required=True, help="the name inference will use")
    dep.add_argument(
        "--sku", default="Standard", help="Standard (default), GlobalStandard or DeveloperTier"
    )
    dep.add_argument("--checkpoint", help="deploy this checkpoint (ftchkpt-...) instead")
    dep.add_argument("--apply", action="store_true", help=f"send it ({MANAGEMENT_TOKEN})")
    dep.add_argument("--management-url", help=argparse.SUPPRESS)
    dep.set_defaults(run=_guarded(_run_deploy))
