"""Are a job's tool endpoints ready for training? A contract check and a burst load test.

Works on any endpoint that speaks the Agent RFT wire format — the course's service, OpenAI's
build-hours server, a team's own on Modal or Azure — because the probes come from the endpoint's
own tools: example arguments generated from each tool's JSON schema, or example calls you give.
Run it before paying for a job: a 5xx under a burst, a leak between rollouts or refused headers
cost discarded or zero-reward rollouts, which collapse training.

The verdict has **blockers** (what makes the trainer discard rollouts or a tool unusable) and
**notes** (conventions the model still sees through); *ready* means no blocker. Header values and
URL credentials are masked in everything the report holds or prints, even when a server echoes
them back.

Two entry points:

- :func:`check_tools` — for a task's preflight: the job's ``tools`` config as the trainer will
  use it, each ``{name, server_url, headers}`` with header values already resolved from their
  environment references (a tool may have its own URL, ``{url}/tools/{name}`` or build-hours'
  ``{url}/search``, or share ``{url}/call``), and the dataset's ``tools`` specs::

      report = check_tools(task_tools, specs=dataset_line["tools"], rollouts=20, calls=4)
      report.ready, report.blockers, report.notes
      report.findings_table(); report.contract_table(); print(report.text())

- :func:`check_endpoint` — one service by its base URL, as ``rftkit endpoints check`` does: the
  specs come from ``GET {url}/tools`` unless given, each tool at ``{url}{tool_path}``::

      report = check_endpoint("http://127.0.0.1:8000",
                              headers={"Authorization": f"Bearer {token}"},
                              examples={"read_file": {"path": "reports/acme/2025-Q1.md"}})
"""

from __future__ import annotations

import base64
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from pydantic import ValidationError

from rftkit._util.background import BackgroundLoop
from rftkit.endpoints.burst import Attempt, BurstResult, run_burst
from rftkit.endpoints.contract import CheckResult, check_contract
from rftkit.endpoints.examples import (
    SpecError,
    build_probes,
    example_arguments,
    spec_name_and_schema,
)
from rftkit.endpoints.report import ReadinessReport
from rftkit.endpoints.scenarios import ScenarioLike, as_scenarios, burst_scenarios
from rftkit.endpoints.target import CALCULATOR_PROBE, Probe, ToolTarget
from rftkit.outbound import OutboundPolicy, OutboundRefused
from rftkit.protocol import JobTool
from rftkit.secrets import Redactor, references, secrets_of, strip_userinfo

__all__ = [
    "CALCULATOR_PROBE",
    "Attempt",
    "BurstResult",
    "CheckResult",
    "Probe",
    "ReadinessReport",
    "SpecError",
    "ToolTarget",
    "check_endpoint",
    "check_tools",
    "example_arguments",
    "run_burst",
    "run_coroutine",
]

T = TypeVar("T")


_loop = BackgroundLoop("rftkit-endpoints")


JobToolLike = Mapping[str, Any] | JobTool
"""A job tool as a dict ``{name, server_url, headers}`` or :class:`rftkit.protocol.JobTool`."""


def _as_job_tools(job_tools: Sequence[JobToolLike]) -> list[JobTool]:
    """Each tool as a :class:`JobTool`; ValueError naming the tool and the field otherwise (the
    value is never quoted: it may be a header's), or for a header still holding a ``${NAME}``
    reference (a task's ``tools`` rather than its resolved ``job_tools()``)."""
    tools = []
    for index, tool in enumerate(job_tools):
        try:
            tools.append(tool if isinstance(tool, JobTool) else JobTool.model_validate(tool))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"job tool #{index}: {where or 'the tool'}: {first['msg']}") from None
        for header, value in tools[-1].headers.items():
            if references(value):
                raise ValueError(
                    f"job tool {tools[-1].name!r}: header {header} still holds the reference "
                    f"${{{references(value)[0]}}}; pass the resolved tools (task.job_tools())"
                )
    return tools


def _targets(job_tools: Sequence[JobTool]) -> list[ToolTarget]:
    targets = []
    for tool in job_tools:
        url, headers = _credentials_as_header(tool.name, tool.server_url, dict(tool.headers))
        targets.append(ToolTarget(tool.name, url, headers))
    return targets


def _credentials_as_header(
    name: str, url: str, headers: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """``https://user:pass@host`` → the URL without them and ``Authorization: Basic …``.

    That is what HTTP clients send for URL credentials; doing it here means no client sees
    credentials in a URL (aiohttp refuses them next to an Authorization header).
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, headers
    if any(key.lower() == "authorization" for key in headers):
        raise ValueError(
            f"job tool {name!r}: server_url has credentials and there is an Authorization "
            "header too; give one of them"
        )
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = (unquote(part) for part in userinfo.partition(":"))
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return urlunsplit(parts._replace(netloc=host)), {**headers, "Authorization": f"Basic {basic}"}


def check_tools(
    job_tools: Sequence[JobToolLike],
    specs: Iterable[Mapping[str, Any]] = (),
    *,
    examples: Mapping[str, Mapping[str, Any]] | None = None,
    probes: Iterable[Probe] = (),
    items: Sequence[Mapping[str, Any]] = (),
    rollouts: int = 20,
    calls: int = 4,
    parallel: int = 2,
    p99_budget_ms: float = 1000.0,
    timeout: float = 10.0,
    max_retries: int = 3,
    retry_backoff: float = 0.05,
    setup: Sequence[tuple[str, str]] = (),
    policy: OutboundPolicy | None = None,
    sequences: Sequence[ScenarioLike] = (),
) -> ReadinessReport:
    """Contract check of every tool in ``job_tools``, then a burst of ``rollouts`` rollouts.

    ``job_tools``: the job's tools config, ``[{"name", "server_url", "headers"}]`` (dicts or
    :class:`~rftkit.protocol.JobTool`), header values resolved. ``specs``: chat-completions
    function specs (a dataset line's ``tools``) from which example arguments are generated.
    ``examples`` (``{tool: arguments}``) and ``probes`` override them per tool. ``items``: dataset
    lines sent in turn as each call's ``item``, as the trainer does (a service that reads its
    task from the line needs them). The burst makes
    ``calls`` calls per rollout going round the tools, ``parallel`` at a time; ``rollouts=0``
    runs the contract check only. ``timeout`` is per request; a timed-out request is retried like
    a 5xx, as the trainer does, after ``retry_backoff`` × 2**attempt seconds. ``setup`` adds
    ``(severity, text)`` findings made by the caller. ``policy`` (``rftkit.outbound``, e.g. the
    one a server applies with ``--allow-remote``): a tool whose URL it refuses is a blocker and
    is never called, nor is any tool while one is refused. ``sequences``: scenarios for
    stateful tools, each an ordered list of calls ``{"name", "arguments"}`` that one rollout
    makes under one trace id (a task's ``probes``; :mod:`rftkit.endpoints.scenarios`): each tool
    they call is probed after the calls before it, and every burst rollout replays one of them.
    Raises ValueError for a job tool without a name or an http(s) URL, with URL credentials
    beside an Authorization header, or a sequence that is not a list of calls or calls a tool
    the job does not have.
    """
    tools = _as_job_tools(job_tools)
    scenarios = as_scenarios(sequences)
    names = {t.name for t in tools}
    for index, scenario in enumerate(scenarios):
        unknown = sorted({c.name for c in scenario} - names)
        if unknown:
            raise ValueError(f"sequence #{index} calls {', '.join(unknown)}, not a job tool")
    secrets: set[str] = set()
    for tool in tools:
        secrets |= secrets_of(tool.headers, [tool.server_url])
    redact = Redactor(secrets)
    targets = _targets(tools)
    built, probe_notes = build_probes([t.name for t in targets], specs, examples, probes, scenarios)
    if items:
        lines = tuple(dict(item) for item in items)
        built = {name: replace(probe, items=lines) for name, probe in built.items()}
    replayed = burst_scenarios(scenarios, built) if scenarios else []
    findings = [
        (severity, redact(text))
        for severity, text in [*setup, *(("note", note) for note in probe_notes)]
    ]
    if not targets:
        findings.append(("blocker", "no tools to check"))
        return ReadinessReport([], None, p99_budget_ms, findings, redact)
    refused = _refused(targets, policy)
    if refused:
        findings += [("blocker", redact(text)) for text in refused]
        return ReadinessReport([], None, p99_budget_ms, findings, redact)

    async def run() -> ReadinessReport:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            contract = await check_contract(client, targets, built, redact)
        burst = None
        if rollouts > 0:
            burst = await run_burst(
                targets,
                built,
                rollouts,
                calls,
                parallel,
                max_retries,
                retry_backoff,
                timeout,
                redact,
                replayed,
            )
        return ReadinessReport(contract, burst, p99_budget_ms, findings, redact)

    return run_coroutine(run())


def _refused(targets: Sequence[ToolTarget], policy: OutboundPolicy | None) -> list[str]:
    """One sentence per target whose URL ``policy`` refuses (checked before any request)."""
    if policy is None:
        return []
    refused = []
    for target in targets:
        try:
            policy.check_url(target.url)
        except OutboundRefused as exc:
            refused.append(
                f"{target.name}: {strip_userinfo(target.url)} refused by the outbound "
                f"policy ({exc}); nothing was sent"
            )
    return refused


def check_endpoint(
    base_url: str,
    token: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    tools: Iterable[Mapping[str, Any]] | None = None,
    examples: Mapping[str, Mapping[str, Any]] | None = None,
    probe: Probe | None = None,
    probes: Iterable[Probe] = (),
    items: Sequence[Mapping[str, Any]] = (),
    tool_path: str = "/tools/{name}",
    rollouts: int = 100,
    calls: int = 5,
    parallel: int = 2,
    p99_budget_ms: float = 1000.0,
    timeout: float = 10.0,
    max_retries: int = 3,
    retry_backoff: float = 0.05,
    sequences: Sequence[ScenarioLike] = (),
) -> ReadinessReport:
    """Check the service at ``base_url``: every tool it serves (or ``tools``), at ``tool_path``.

    ``token`` adds ``Authorization: Bearer <token>`` to ``headers``. The tool specs are ``tools``
    if given, else ``GET {base_url}/tools`` (sent with the headers); a service without that route
    needs ``tools``, ``examples`` or ``probes``. ``tool_path`` is each tool's URL under
    ``base_url``: ``/tools/{name}`` (the course's service), ``/{name}`` (build-hours), or a path
    without ``{name}`` for one URL that dispatches on the call's name (``/call``). ``probe`` is one
    more probe (kept for notebook 02). The rest is as in :func:`check_tools` (``sequences``:
    call scenarios for stateful tools).
    """
    from rftkit.data.toolspecs import fetch_tool_specs

    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    given = [*probes, *([probe] if probe else [])]
    setup: list[tuple[str, str]] = []
    if tools is None:
        try:
            tools = fetch_tool_specs(base_url, headers=headers, timeout=timeout)
        except (httpx.HTTPError, ValueError) as exc:
            tools = []
            severity = "note" if given or examples or sequences else "blocker"
            setup.append(
                (
                    severity,
                    f"no tool specs: {exc}; pass them (--tools-from) or give "
                    "example calls (--probe NAME='{...}')",
                )
            )
    tools = list(tools)
    names = []
    for index, spec in enumerate(tools):
        try:
            names.append(spec_name_and_schema(spec)[0])
        except SpecError as exc:
            raise SpecError(f"tool spec #{index} {exc}") from None
    called = [call.name for scenario in as_scenarios(sequences) for call in scenario]
    names = list(dict.fromkeys([*names, *(p.name for p in given), *(examples or {}), *called]))
    root = base_url.rstrip("/")
    job_tools = [
        {"name": name, "server_url": root + tool_path.replace("{name}", name), "headers": headers}
        for name in names
    ]
    return check_tools(
        job_tools,
        tools,
        examples=examples,
        probes=given,
        items=items,
        rollouts=rollouts,
        calls=calls,
        parallel=parallel,
        p99_budget_ms=p99_budget_ms,
        timeout=timeout,
        max_retries=max_retries,
        retry_backoff=retry_backoff,
        setup=setup,
        sequences=sequences,
    )


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` from sync code, also inside a running loop (Jupyter)."""
    return _loop.run(coroutine)
