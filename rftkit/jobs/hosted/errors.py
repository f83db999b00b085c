"""What a refused or failed request to a hosted platform means, in one sentence a person can act on.

The ``openai`` SDK raises typed errors (HTTP statuses, a timeout, no connection); :func:`explain`
turns each into a :class:`HostedJobError` whose message says what happened and what to do. The
classification reads the HTTP status and the error's ``code`` and ``param`` (never free text: a
400 that happens to contain "not allowed" is an invalid request, not a refusal). A message never
carries a header value: every secret the request held is masked before the message is built (a
platform may echo a rejected grader, headers included, in its error body).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import openai

from rftkit.errors import RFTKitError
from rftkit.secrets import mask

WIND_DOWN = (
    "OpenAI is winding down self-serve fine-tuning: organisations without recent fine-tuning "
    "activity cannot create jobs since 2026-07-02, and nobody can from 2027-01-06 "
    "(developers.openai.com/api/docs/deprecations). Train elsewhere: Azure AI Foundry "
    "(--backend azure; o4-mini RFT generally available, Agent RFT tools and endpoint graders in "
    "private preview), an open-weights trainer (e.g. TRL's GRPOTrainer), or the local engine "
    "(--backend local)."
)
AZURE_REFUSED = (
    "Azure AI Foundry refused to create the job: check the resource's region and quota, and that "
    "the subscription is enabled for RFT (Agent RFT with job tools or an endpoint grader is a "
    "private preview, by invitation). Other places to train: an open-weights trainer (e.g. TRL's "
    "GRPOTrainer) or the local engine (--backend local)."
)
AGENT_RFT_UNAVAILABLE = (
    "Agent RFT (job-level tools, endpoint graders, max_episode_steps) is not available to this "
    "account. On Azure AI Foundry it is a private preview: the subscription must be enrolled by "
    "Microsoft (ask your account team, github.com/microsoft-foundry/fine-tuning Agentic RFT "
    "preview). On OpenAI it was by invitation. What to do: train the task without tools and with "
    "a built-in grader (plain RFT), or train with tools on an open-weights trainer (TRL) or the "
    "local engine (--backend local)."
)
NOT_AVAILABLE_CODES = frozenset(
    {"feature_not_available", "feature_not_enabled", "not_available", "unsupported_feature"}
)
"""Error codes that say a feature exists but the account may not use it."""
AGENT_RFT_PARAMS = ("tools", "max_episode_steps", "endpoint")
KINDS = (
    "refused",
    "not_available",
    "invalid",
    "rate_limited",
    "server",
    "auth",
    "not_found",
    "unreachable",
    "timeout",
    "failed",
)


class HostedJobError(RuntimeError, RFTKitError):
    """A hosted platform refused or failed a request; the message says why and what to do.

    ``status`` is the HTTP status (None when no answer came), ``kind`` one of :data:`KINDS`.
    """

    def __init__(self, message: str, *, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def job_failure(job: dict[str, Any]) -> str:
    """What a failed job's ``error`` says (message, code, param), for printing."""
    error = job.get("error") or {}
    if not isinstance(error, dict) or not error.get("message"):
        return "the platform gave no error message"
    extra = ", ".join(f"{k}: {error[k]}" for k in ("code", "param") if error.get(k))
    return f"{error['message']}" + (f" ({extra})" if extra else "")


def _error_fields(exc: openai.APIStatusError) -> tuple[str, str, str]:
    """``(message, code, param)`` of the platform's error body (empty strings when absent)."""
    body = exc.body
    inner = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        return exc.message, "", ""
    message = inner.get("message") or exc.message
    return str(message), str(inner.get("code") or ""), str(inner.get("param") or "")


def platform_name(platform: str) -> str:
    return "Azure AI Foundry" if platform == "azure" else "OpenAI"


def timeout_error(platform: str, action: str, seconds: float) -> HostedJobError:
    """The error for a request that got no answer within ``seconds``."""
    return HostedJobError(
        f"{action}: timed out: {platform_name(platform)} gave no answer within {seconds:g} s "
        "(--timeout). The platform may be slow or the URL may accept connections and never "
        "answer; check the base URL, raise --timeout, or retry later",
        kind="timeout",
    )


def explain(
    exc: openai.OpenAIError,
    *,
    platform: str,
    action: str,
    secrets: Iterable[str] = (),
    agent_rft: bool = False,
    timeout: float | None = None,
) -> HostedJobError:
    """The :class:`HostedJobError` for ``exc`` raised while doing ``action`` on ``platform``;
    ``agent_rft`` says the request used job tools or an endpoint grader, ``timeout`` the
    seconds the request was given."""
    secrets = list(secrets)
    name = platform_name(platform)
    if isinstance(exc, openai.APITimeoutError):
        return timeout_error(platform, action, timeout or 0)
    if isinstance(exc, openai.APIConnectionError):
        return HostedJobError(
            f"{action}: cannot reach {name} ({type(exc).__name__}: the connection failed or was "
            "closed before an answer); check the base URL and the network, then retry",
            kind="unreachable",
        )
    if not isinstance(exc, openai.APIStatusError):
        return HostedJobError(mask(f"{action}: {exc}", secrets), kind="failed")
    message, code, param = _error_fields(exc)
    said = mask(message + (f" (param: {param})" if param else ""), secrets)
    said += f" [code: {code}]" if code else ""
    status = exc.status_code
    about_agent_rft = any(p in param for p in AGENT_RFT_PARAMS)
    if status == 403:
        advice = WIND_DOWN if platform == "openai" else AZURE_REFUSED
        if agent_rft:  # the likelier reason first: the account may not be enrolled
            advice = (
                "This job uses Agent RFT; if the account is not enrolled, that is the reason: "
                f"{AGENT_RFT_UNAVAILABLE} If it is enrolled: {advice}"
            )
        text, kind = f"{action}: {name} refused (403: {said}). {advice}", "refused"
    elif code in NOT_AVAILABLE_CODES and (agent_rft or about_agent_rft):
        text = f"{action}: {name} answered {status}: {said}. {AGENT_RFT_UNAVAILABLE}"
        kind = "not_available"
    elif code in NOT_AVAILABLE_CODES:
        text = (
            f"{action}: {name} says this is not available to the account ({status}: {said}); "
            "check the model, region and the account's access"
        )
        kind = "not_available"
    elif status == 401:
        text, kind = (
            f"{action}: {name} did not accept the credentials (401); check the API key or token "
            "the client was built with",
            "auth",
        )
    elif status == 404:
        text, kind = f"{action}: {name} has no such object (404: {said})", "not_found"
    elif status == 408:
        return timeout_error(platform, action, timeout or 0)
    elif status == 429:
        text, kind = (
            f"{action}: {name} is rate-limiting or out of quota (429: {said}). Wait and run the "
            "command again, or raise the quota",
            "rate_limited",
        )
    elif status >= 500:
        text, kind = (
            f"{action}: {name} had a server error ({status}: {said}). Run the command again "
            "later (a launch finds its job by the task's hash if it was created after all)",
            "server",
        )
    else:
        is_grader = "grader" in param or ("grader" in said.lower() and not param)
        if about_agent_rft and agent_rft:
            what = "the Agent RFT part of the request is invalid"
            hint = (
                " (graders/validate and the published schemas do not list Agent RFT fields; if "
                "the account is not enrolled in Agent RFT, it is not available to this account)"
            )
        else:
            what = "the grader is invalid" if is_grader else "the request is invalid"
            hint = ""
        text, kind = f"{action}: {name} says {what} ({status}: {said}){hint}", "invalid"
    return HostedJobError(text, kind=kind, status=status)
