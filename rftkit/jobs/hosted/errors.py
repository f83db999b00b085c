"""What a refused or failed request to a hosted platform means, in one sentence a person can act on.

The ``openai`` SDK raises typed errors (403, 400, 429, 5xx, no connection); :func:`explain` turns
each into a :class:`HostedJobError` whose message says what happened and what to do, and never
carries a header value: every secret the request held is masked before the message is built
(a platform may echo a rejected grader, headers included, in its error body).
"""

from __future__ import annotations

from collections.abc import Iterable

import openai

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
MASK = "**********"
MIN_SECRET = 4


class HostedJobError(RuntimeError):
    """A hosted platform refused or failed a request; the message says why and what to do.

    ``status`` is the HTTP status (None when the platform was not reached), ``kind`` one of
    ``refused``, ``invalid``, ``rate_limited``, ``server``, ``auth``, ``not_found``,
    ``unreachable``, ``failed``.
    """

    def __init__(self, message: str, *, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by the mask the platforms echo. Values shorter
    than :data:`MIN_SECRET` characters are left alone: masking every ``t`` protects nothing and
    makes the text unreadable."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _platform_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            param = f" (param: {inner['param']})" if inner.get("param") else ""
            return f"{inner['message']}{param}"
    return exc.message


def explain(
    exc: openai.OpenAIError, *, platform: str, action: str, secrets: Iterable[str] = ()
) -> HostedJobError:
    """The :class:`HostedJobError` for ``exc`` raised while doing ``action`` on ``platform``."""
    secrets = list(secrets)
    name = "Azure AI Foundry" if platform == "azure" else "OpenAI"
    if isinstance(exc, openai.APIConnectionError):
        return HostedJobError(
            f"{action}: cannot reach {name} ({type(exc).__name__}); check the base URL and the "
            "network, then retry",
            kind="unreachable",
        )
    if not isinstance(exc, openai.APIStatusError):
        return HostedJobError(mask(f"{action}: {exc}", secrets), kind="failed")
    said = mask(_platform_message(exc), secrets)
    status = exc.status_code
    if status == 403 or (status == 400 and "not allowed" in said.lower()):
        advice = WIND_DOWN if platform == "openai" else AZURE_REFUSED
        text, kind = f"{action}: {name} refused ({status}: {said}). {advice}", "refused"
    elif status in (401,):
        text, kind = (
            f"{action}: {name} did not accept the credentials (401); check the API key or token "
            "the client was built with",
            "auth",
        )
    elif status == 404:
        text, kind = f"{action}: {name} has no such object (404: {said})", "not_found"
    elif status == 429:
        text, kind = (
            f"{action}: {name} is rate-limiting or out of quota (429: {said}); the SDK already "
            "retried. Wait and run the command again, or raise the quota",
            "rate_limited",
        )
    elif status >= 500:
        text, kind = (
            f"{action}: {name} had a server error ({status}: {said}); the SDK already retried. "
            "Run the command again later (a launch finds its job if it was created after all)",
            "server",
        )
    else:
        what = "the grader is invalid" if "grader" in said.lower() else "the request is invalid"
        text, kind = f"{action}: {name} says {what} ({status}: {said})", "invalid"
    return HostedJobError(text, kind=kind, status=status)
