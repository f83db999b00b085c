"""From a finished Azure job to a model that answers: the deployment, then evaluation by its name.

On Azure AI Foundry a fine-tuned model (``o4-mini-2025-04-16.ft-…``) answers nothing until it is
*deployed*: a control-plane (Azure Resource Manager) request creates a deployment of it under a
name you choose, and every inference request then names the deployment, not the model id
(``model="<deployment name>"`` on the ``/openai/v1/`` API). Deploying starts an hourly hosting
charge: $1.70 per hour for a Standard or Global Standard deployment of a fine-tuned o4-mini in
Microsoft's example, none for a Developer deployment (removed automatically after 24 hours); the
pricing page has the current figures. A checkpoint (``ftchkpt-…``) can be deployed instead of the
final model. Sources: Microsoft Learn, "Deploy a fine-tuned model" and "Cost management for
fine-tuning" (Azure OpenAI), read 2026-12-07.

:class:`AzureDeployment` prints the exact request (the token masked) and the ``az`` command;
:func:`deploy` sends it with a management token and waits until the deployment has succeeded.

Example::

    plan = deployment_for(job.as_job(), subscription="…", resource_group="rg", resource="res",
                          name="orders-rft")
    print(plan.request_text()); print(plan.az_command())
    deploy(plan, token=os.environ["AZURE_MANAGEMENT_TOKEN"])
    policy = OpenAICompatiblePolicy(openai.AsyncOpenAI(base_url=".../openai/v1/", api_key=key),
                                    plan.name)      # evaluate by the deployment's name
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from rftkit.jobs.hosted.errors import HostedJobError
from rftkit.secrets import MASK, mask

ARM = "https://management.azure.com"
API_VERSION = "2024-10-01"
HOURLY_USD = {"Standard": 1.70, "GlobalStandard": 1.70, "DeveloperTier": 0.0}
"""Hosting per hour of a fine-tuned o4-mini deployment, by SKU, in Microsoft's cost guide."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.()-]{1,90}$")


@dataclass(frozen=True)
class AzureDeployment:
    """One deployment of a fine-tuned model (or checkpoint) in an Azure OpenAI resource."""

    subscription: str
    resource_group: str
    resource: str
    name: str
    model: str
    sku: str = "Standard"
    capacity: int = 1

    def __post_init__(self) -> None:
        for field, value in (
            ("subscription", self.subscription),
            ("resource group", self.resource_group),
            ("resource", self.resource),
        ):
            if not _SEGMENT.match(value):
                raise ValueError(f"the {field} {value!r} is not a valid Azure resource name")
        if not _NAME.match(self.name):
            raise ValueError(
                f"the deployment name {self.name!r} must be 2-64 letters, digits, '_', '.' or "
                "'-', starting with a letter or digit"
            )
        if self.sku not in HOURLY_USD:
            raise ValueError(f"sku must be one of {', '.join(HOURLY_USD)}, not {self.sku!r}")
        if self.capacity < 1:
            raise ValueError("capacity must be at least 1")

    def url(self, management: str = ARM) -> str:
        return (
            f"{management.rstrip('/')}/subscriptions/{self.subscription}/resourceGroups/"
            f"{self.resource_group}/providers/Microsoft.CognitiveServices/accounts/"
            f"{self.resource}/deployments/{self.name}?api-version={API_VERSION}"
        )

    def body(self) -> dict[str, Any]:
        return {
            "sku": {"name": self.sku, "capacity": self.capacity},
            "properties": {"model": {"format": "OpenAI", "name": self.model, "version": "1"}},
        }

    def request_text(self) -> str:
        """The PUT to send, as text, with the token masked."""
        return "\n".join(
            [
                f"PUT {self.url()}",
                f"Authorization: Bearer {MASK}   (az account get-access-token)",
                "Content-Type: application/json",
                "",
                json.dumps(self.body(), indent=2),
            ]
        )

    def az_command(self) -> str:
        return (
            "az cognitiveservices account deployment create "
            f"--subscription {self.subscription} --resource-group {self.resource_group} "
            f"--name {self.resource} --deployment-name {self.name} --model-name {self.model} "
            f'--model-version "1" --model-format OpenAI --sku-name {self.sku} '
            f"--sku-capacity {self.capacity}"
        )

    def cost_text(self) -> str:
        hourly = HOURLY_USD[self.sku]
        if not hourly:
            return (
                f"{self.sku}: no hourly hosting fee, tokens billed; removed after 24 hours "
                "(Microsoft's cost guide)"
            )
        return (
            f"{self.sku}: ${hourly:.2f} per hour while deployed (${hourly * 24 * 30:,.0f} a "
            "30-day month), plus tokens; delete the deployment when done (Microsoft's cost "
            "guide example; check the pricing page)"
        )


def deployment_for(
    job: Mapping[str, Any],
    *,
    subscription: str,
    resource_group: str,
    resource: str,
    name: str,
    checkpoint: str | None = None,
    sku: str = "Standard",
) -> AzureDeployment:
    """The deployment of ``job``'s fine-tuned model (or of ``checkpoint``, an ``ftchkpt-`` id)."""
    model = checkpoint or job.get("fine_tuned_model")
    if not model:
        raise ValueError(
            f"job {job.get('id')} has no fine-tuned model to deploy (status "
            f"{job.get('status')}); deploy one of its checkpoints with --checkpoint, or wait "
            "until it succeeds"
        )
    return AzureDeployment(subscription, resource_group, resource, name, str(model), sku)


def deploy(
    plan: AzureDeployment,
    token: str,
    *,
    management: str = ARM,
    timeout: float = 900.0,
    poll: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
    http: httpx.Client | None = None,
) -> dict[str, Any]:
    """Create the deployment and wait until its ``provisioningState`` is ``Succeeded``; the
    deployment's JSON. HostedJobError (the token masked) when refused, failed or too slow."""
    client = http or httpx.Client(timeout=60.0)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = client.request(method, plan.url(management), headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise HostedJobError(
                f"deploy {plan.name}: cannot reach Azure Resource Manager ({type(exc).__name__})",
                kind="unreachable",
            ) from None
        if answer.status_code >= 400:
            raise HostedJobError(
                mask(
                    f"deploy {plan.name}: Azure Resource Manager answered {answer.status_code}: "
                    f"{answer.text[:500]}",
                    [token],
                ),
                kind="auth" if answer.status_code in (401, 403) else "invalid",
                status=answer.status_code,
            )
        return answer.json()

    deadline = time.monotonic() + timeout
    found = call("PUT", json=plan.body())
    while (state := (found.get("properties") or {}).get("provisioningState")) != "Succeeded":
        if state in ("Failed", "Canceled"):
            raise HostedJobError(
                f"deploy {plan.name}: the deployment {state.lower()}", kind="failed"
            )
        if time.monotonic() > deadline:
            raise HostedJobError(
                f"deploy {plan.name}: still {state} after {timeout:.0f} s; it may finish later "
                "(see the resource's deployments)",
                kind="timeout",
            )
        if progress is not None:
            progress(f"deployment {plan.name} is {state}")
        sleep(poll)
        found = call("GET")
    return found
