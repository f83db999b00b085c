"""Preflight: every check a task must pass before a job is paid for, in one call and one table.

Rows, in order (``check``, ``result``: ok / warning / error / skipped, ``detail``):

- **secrets**: every header reference the task makes resolves from ``env``;
- **data**: each file validated against the task's grader and tool names (``rftkit.data``);
- **platform rules** (``openai``/``azure``, ``rftkit.jobs.rules``): hyperparameters within the
  published ranges, a validation file on Azure, tool and grader URLs the platform can reach, and
  the Agent RFT and ``response_format`` fields where they mean something;
- **grader**: validated locally (``rftkit.graders.validate_grader``) and, given a client, by the
  platform's ``graders/validate``;
- **red team**: the grader attacked with answers that must earn nothing
  (``rftkit.evaluation.redteam``), on cases from a baseline's best rollouts or else from the task's
  lines, a line that one of the task's stored ``probes`` fits acted out through the tools first
  (``rftkit.jobs.redteam_cases``);
- **tools**: the task's real tool URLs, called with the task's headers and its lines as items
  (``rftkit.endpoints.check_tools``), with calls that must succeed: ``probes=`` (``--probe
  NAME='{...}'``), ``sequences=`` (``--sequence``) and the task's stored ``probes`` (scenarios
  replayed under one trace id, so a stateful tool gets the calls it needs first), and a
  baseline's successful calls in its rollouts of training lines (the lines the check sends as
  items) for tools none of those cover; arguments generated from the dataset's tool specs only
  for a tool left without any;
- **model** and **availability**: the model and backend support RFT / Agent RFT, and the
  platform still creates jobs (``rftkit.jobs.platforms``: dates and sources);
- **forecast**: time, cost and tool traffic from a baseline, against ``budget_usd``.

The rows make a :class:`rftkit.jobs.report.Report` (TRL's preflight makes one too).
``rftkit jobs launch`` and :func:`rftkit.jobs.launch` refuse to launch on any error unless told
to skip it. Header values never appear in the report: every detail is masked with the values the
task resolved.

Example::

    report = preflight(task, "azure", env=env, client=client, baseline=baseline, budget_usd=500)
    report.table(); print(report.render()); report.ok
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import openai
from pydantic import ValidationError

from rftkit._util.moved import renamed
from rftkit.data import validate_file
from rftkit.data.validate import Profile
from rftkit.endpoints import check_tools
from rftkit.endpoints.scenarios import as_scenarios
from rftkit.evaluation.redteam import PROBES, run_redteam
from rftkit.graders.validate import GraderValidationError, grader_warnings, validate_grader
from rftkit.jobs.forecast import RolloutProfile, forecast
from rftkit.jobs.hosted.api import DEFAULT_TIMEOUT, HostedAPI
from rftkit.jobs.hosted.errors import HostedJobError
from rftkit.jobs.hosted.request import secret_values, uses_agent_rft
from rftkit.jobs.local import local_checkpoint
from rftkit.jobs.platforms import CHECKED, OPENAI_WIND_DOWN, model_support
from rftkit.jobs.redteam_cases import cases_from_lines, cases_from_probes, cases_from_traces
from rftkit.jobs.report import Report
from rftkit.jobs.rules import platform_rules, private_reason
from rftkit.protocol import JobTool
from rftkit.rollouts.engine import lines_by_id
from rftkit.rollouts.probes import probes_from_traces
from rftkit.secrets import mask_urls
from rftkit.task import RFTTask, TaskSecretError

# This module's report type before rftkit.jobs.report, kept for one release.
__getattr__ = renamed(__name__, {"PreflightReport": (Report, "rftkit.jobs.report.Report")})


def task_secrets(
    task: RFTTask, env: Mapping[str, str] | None
) -> tuple[dict | None, list[str], tuple[str, str]]:
    """The task's shared secrets check, the same on every backend: the resolved grader (None
    when a reference is missing), the values to mask, and the ``secrets`` row. A header holding
    a literal value (possible in a task built in code with ``model_copy``, which skips the
    task's validation) is an error here as in a task file."""
    literal = None
    try:
        type(task).model_validate(task.model_dump())
    except ValidationError as exc:
        said = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]
        literal = next((m for m in said if "literal value" in m), None)
    try:
        secrets = secret_values(task, env)
    except TaskSecretError as exc:
        return None, [], ("error", literal or str(exc))
    if literal is not None:
        return None, secrets, ("error", literal)
    return task.resolved_grader(env), secrets, ("ok", "every header reference resolves")


def _check_rules(report: Report, task: RFTTask, backend: str, client: Any) -> None:
    if backend != "local":
        url = None if client is None else str(client.base_url)
        for check, result, detail in platform_rules(task, backend, url):
            report.add(check, result, detail)
    if (
        not task.tools
        and task.max_episode_steps is not None
        and ("max_episode_steps" in task.model_fields_set)
    ):
        report.add(
            "max_episode_steps",
            "warning",
            f"max_episode_steps={task.max_episode_steps} is an Agent RFT setting and this task "
            "has no job-level tools: it is not sent",
        )
    reads_json = "output_json" in json.dumps(task.grader)
    if backend != "local" and task.response_format is None and reads_json:
        report.add(
            "response_format",
            "warning",
            "the grader reads sample.output_json, which the hosted platforms fill only when the "
            "task sets response_format (a json_schema); without it that part scores as if the "
            "answer were not JSON",
        )


def _check_data(report: Report, task: RFTTask, backend: str) -> None:
    names = [t.name for t in task.tools] or None
    splits = [("train", task.path("train")), ("validation", task.path("validation"))]
    for split, path in splits:
        if path is None and backend == "azure":
            continue  # a blocker, reported by the platform rules
        if path is None:
            report.add(
                f"data: {split}",
                "warning",
                "no validation file (RFT effectively needs "
                "one: it drives valid_reward_mean and checkpoint choice)",
            )
            continue
        other = next((p for s, p in splits if s != split), None)
        found = validate_file(
            path,
            split=split,
            grader=task.grader,
            tool_names=names,
            other_split=other,
            profile=Profile(platform=task.platform, model=task.model),
        )
        if found.errors:
            shown = "; ".join(str(f) for f in found.errors[:3])
            report.add(f"data: {split}", "error", f"{found.summary()}: {shown}")
        else:
            first = f"; first: {found.warnings[0]}" if found.warnings else ""
            report.add(f"data: {split}", "warning" if first else "ok", found.summary() + first)


def _check_grader(
    report: Report,
    task: RFTTask,
    backend: str,
    grader: dict,
    client: Any,
    secrets: list[str],
    timeout: float,
) -> None:
    try:
        validate_grader(task.grader)
        report.add("grader: local", "ok", f"{task.grader.get('type')} grader is valid for RFT")
    except GraderValidationError as exc:
        report.add("grader: local", "error", str(exc))
    else:  # e.g. a text_similarity metric that cannot reward the task's own reference answers
        for warning in grader_warnings(task.grader, task.items("train")):
            report.add("grader: local", "warning", warning)
    if backend == "local" or client is None:
        reason = "the local backend runs graders itself" if backend == "local" else "no client"
        report.add("grader: platform", "skipped", reason)
        return
    api = HostedAPI(client, backend, secrets=secrets, timeout=timeout)
    try:
        api.validate_grader(grader)
        report.add("grader: platform", "ok", f"{backend} graders/validate accepted it")
    except HostedJobError as exc:
        report.add("grader: platform", "error", str(exc))


def check_redteam(
    report: Report,
    task: RFTTask,
    grader: dict,
    baseline: Any,
    cases: int,
    tools: Sequence[JobTool] = (),
) -> None:
    """The red team's row: ``grader`` (resolved) attacked on cases from a baseline's best
    rollouts of training lines, else from the training lines. Every backend's preflight runs it
    (TRL's too). Given ``tools`` (the job's, resolved), the training lines that one of the
    task's stored probes fits come first: each gets its honest path through the tools, the
    scenario's calls made at their URLs, then the line's answer
    (``rftkit.jobs.redteam_cases.cases_from_probes``); only without any such line do the cases
    come from the lines' answers alone.

    The row names the probes tried. It is a warning, not ok, when the honest path was never
    tried: the honest control earns less than 0.9, or the task has tools and no case's honest
    rollout made a call (cases from the lines' answers alone), so what the grader pays for
    honest work through the tools is unknown; a baseline whose rollouts are of no training line
    (one over the validation lines) is named as the reason. The "lucky guess" (the right answer
    without the calls) is judged on a baseline's rollouts only: the stored probes say which
    calls work, not that the task cannot be answered without them."""
    lines = task.items("train")
    built = cases_from_traces(baseline.traces, lines, task.grader, cases) if baseline else []
    source, probes = "the baseline's best rollouts", PROBES
    if not built:
        built = cases_from_probes(grader, lines, task.probes, tools, cases) if tools else []
        source = "the training lines a stored probe fits (its calls made through the tools)"
        if not built:  # answers alone: padding probe cases with them would lower the honest
            # control wherever the grader rightly pays nothing for an answer without the tools
            built = cases_from_lines(task.grader, lines, cases)
            source = "the training lines' answers (no tool calls)"
        # Cases from lines made no tool calls, so "lucky guess" would equal the honest answer.
        probes = tuple(p for p in PROBES if p.name != "lucky guess")
    if not built:
        report.add(
            "red team",
            "skipped",
            "no line holds a plain answer the grader reads; give a baseline to build cases "
            "from its rollouts",
        )
        return
    try:
        attacked = run_redteam(grader, built, probes=probes)
    except Exception as exc:  # a grader that crashes on bad answers is itself the finding
        report.add("red team", "error", f"grading a probe failed: {type(exc).__name__}: {exc}")
        return
    problems = attacked.problems()
    flagged = [p for p in problems if not p.startswith("the honest answer")]
    honest = attacked.table["mean reward"].get("control: honest answer")
    summary = f"{len(built)} case(s) from {source}; honest answer earns {honest}"
    tried = f"; probes tried: {', '.join(attacked.exercised) or 'none'}"
    untried = None
    if task.tools and attacked.honest_tool_calls == 0:
        untried = (
            "the honest path was never tried: no case made a tool call, so what the grader "
            "pays for the right answer after the tools is unknown; give preflight a "
            "baseline over the training lines"
        )
        ids = {str(item_id) for item_id in lines_by_id(lines)}
        if baseline is not None and not any(str(t.item_id) in ids for t in baseline.traces):
            untried += " (the baseline given has no rollout of a training line)"
    elif honest is not None and honest < 0.9:
        untried = "the honest path was never rewarded as right (less than 0.9)"
    if flagged:
        report.add("red team", "error", f"{summary}; rewarded: {'; '.join(flagged)}{tried}")
    elif len(flagged) < len(problems) and probes is PROBES:
        report.add("red team", "warning", f"{summary}, less than 0.9{tried}")
    elif untried:
        report.add("red team", "warning", f"{summary}; {untried}{tried}")
    else:
        detail = f"{summary}; no probe earns over {attacked.threshold}{tried}"
        report.add("red team", "ok", detail)


def _check_tools(
    report: Report,
    task: RFTTask,
    env: Any,
    rollouts: int,
    examples: Mapping[str, Mapping[str, Any]],
    sequences: Sequence[Sequence[Any]],
    baseline: Any,
) -> None:
    if not task.tools:
        report.add("tools", "skipped", "the task has no job-level tools")
        return
    lines = task.items("train")
    specs = lines[0].get("tools") or [] if lines else []
    scenarios = [*task.probes, *as_scenarios(sequences, "--sequence")]
    if baseline is not None:  # its successful calls, for tools nothing else covers
        covered = {call.name for scenario in scenarios for call in scenario} | set(examples)
        ids = {str(item_id) for item_id in lines_by_id(lines)}
        scenarios += [
            scenario
            for scenario in probes_from_traces(baseline.traces, item_ids=ids)
            if not {call.name for call in scenario} <= covered
        ]
    # The job's tools exactly as the trainer calls them: each URL, the resolved headers, the
    # calls that must succeed (else probes from the dataset's tool specs), the lines as items.
    verdict = check_tools(
        task.job_tools(env),
        specs,
        examples=examples,
        sequences=scenarios,
        items=lines[:20],
        rollouts=rollouts,
        calls=3,
    )
    for blocker in verdict.blockers:
        report.add("tools", "error", blocker)
    for note in verdict.notes:
        report.add("tools", "warning", note)
    if verdict.ready and not verdict.notes:
        report.add("tools", "ok", f"{len(task.tools)} tool(s) passed the contract and a burst")


def _check_model(report: Report, task: RFTTask, backend: str, today: dt.date) -> None:
    if backend == "local":
        _, stand_in = local_checkpoint(task.model)
        report.add("model", "warning" if stand_in else "ok", stand_in or f"{task.model} (local)")
        return
    known = model_support(backend, task.model)
    if known is None:
        report.add(
            "model",
            "warning",
            f"{task.model} is not in the support table for {backend} "
            f"(checked {CHECKED}); the platform decides",
        )
        return
    where = f"{task.model} on {backend}: {known.status} [{known.source}]"
    if uses_agent_rft(task) and not known.agent_rft:
        report.add("model", "error", f"{where}; no Agent RFT (job tools, endpoint graders)")
    elif known.until is not None and known.until <= today:
        said = f"{where}, since {known.until}"
        report.add("model", "error" if known.verified else "warning", said)
    elif known.until is not None:
        report.add(
            "model",
            "warning",
            f"{where} on {known.until} "
            f"({(known.until - today).days} days from {today}); the job must end before",
        )
    else:
        report.add("model", "ok", where)


def _check_availability(
    report: Report, task: RFTTask, backend: str, today: dt.date, client: Any
) -> None:
    url = None if client is None else str(client.base_url)
    if backend == "openai" and url is not None and private_reason(url) is not None:
        report.add(
            "availability",
            "ok",
            f"the platform at {mask_urls(url)} is local (such as rftkit api serve), not OpenAI's "
            "service: OpenAI's wind-down does not apply",
        )
    elif backend == "openai":
        final = max(OPENAI_WIND_DOWN)
        if today >= final:
            report.add(
                "availability",
                "error",
                f"OpenAI creates no new fine-tuning jobs since {final}; train on Azure AI "
                "Foundry (--backend azure), an open-weights trainer or the local engine",
            )
            return
        active = [f"since {d}: {what}" for d, what in OPENAI_WIND_DOWN.items() if d <= today]
        report.add(
            "availability",
            "warning",
            f"OpenAI wind-down ({'; '.join(active)}); "
            f"{OPENAI_WIND_DOWN[final]} from {final} ({(final - today).days} days)",
        )
    elif backend == "azure" and uses_agent_rft(task):
        report.add(
            "availability",
            "warning",
            "Agent RFT (job tools, endpoint graders) on Azure "
            "AI Foundry is a private preview: the subscription must be enrolled",
        )
    else:
        report.add("availability", "ok", f"{backend} creates jobs")


def preflight(
    task: RFTTask,
    backend: str,
    *,
    env: Mapping[str, str] | None = None,
    client: openai.OpenAI | None = None,
    baseline: Any = None,
    budget_usd: float | None = None,
    today: dt.date | None = None,
    readiness_rollouts: int = 10,
    redteam_cases: int = 3,
    timeout: float = DEFAULT_TIMEOUT,
    probes: Mapping[str, Mapping[str, Any]] | None = None,
    sequences: Sequence[Sequence[Any]] = (),
) -> Report:
    """Run every check for ``task`` on ``backend`` (``local``, ``openai``, ``azure``).

    ``probes`` (``{tool: arguments}``) and ``sequences`` (lists of ``{"name", "arguments"}``
    calls replayed under one trace id) are calls that must succeed, with the task's stored
    ``probes``, and ``baseline``'s successful calls (see the module docstring)."""
    if backend not in ("local", "openai", "azure"):
        raise ValueError(
            f"preflight covers local, openai and azure, not {backend!r}"
            + (" (trl-modal has its own: rftkit.trl.preflight)" if backend == "trl-modal" else "")
        )
    today = today or dt.date.today()
    grader, secrets, resolved = task_secrets(task, env)
    report = Report(task.name, backend, secrets=secrets)
    report.add("secrets", *resolved)
    _check_data(report, task, backend)
    _check_rules(report, task, backend, client)
    if grader is not None:
        _check_grader(report, task, backend, grader, client, secrets, timeout)
        tools = task.job_tools(env) if task.probes else []  # resolved: grader is not None
        check_redteam(report, task, grader, baseline, redteam_cases, tools)
        _check_tools(report, task, env, readiness_rollouts, probes or {}, sequences, baseline)
    _check_model(report, task, backend, today)
    _check_availability(report, task, backend, today, client)
    if baseline is None:
        report.add("forecast", "skipped", "give a baseline to forecast time, cost and traffic")
    else:
        report.forecast = forecast(task, RolloutProfile.from_baseline(baseline), backend)
        problems = report.forecast.problems(budget_usd)
        for severity, message in problems:
            report.add("forecast", severity, message)
        if not problems:
            cost = report.forecast.cost_usd
            shown = "" if cost is None else f", ${cost[0]:,.0f}-${cost[1]:,.0f}"
            hours = report.forecast.wall_hours
            report.add("forecast", "ok", f"{hours[0]:.1f}-{hours[1]:.1f} h{shown}")
    return report
