"""The hosted platforms' own rules for a job, checked before anything is uploaded or paid for.

A create that breaks one of these is refused by the platform *after* the files were uploaded
(and, for a private URL, the job starts and every rollout fails). Each rule here names its source:

- **hyperparameter ranges** (:data:`HYPERPARAMETER_LIMITS`): OpenAI's published OpenAPI spec
  (github.com/openai/openai-openapi, ``FineTuneReinforcementHyperparameters``), which Azure's v1
  fine-tuning API shares: ``n_epochs`` 1-50, ``batch_size`` 1-256, ``compute_multiplier`` above
  0.00001 and at most 10, ``eval_interval`` and ``eval_samples`` whole numbers from 1,
  ``learning_rate_multiplier`` above 0;
- **a validation file on Azure**: Azure AI Foundry refuses an RFT job without one ("Both a
  training and a validation dataset must be provided"; learn.microsoft.com, Azure OpenAI
  reinforcement fine-tuning how-to);
- **reachable URLs**: a hosted trainer calls the job's tool URLs and endpoint graders from the
  platform's network, so a loopback, private, link-local or otherwise non-public address cannot
  be reached. The rule is lifted when the platform itself is on such an address (a local stand-in
  such as ``rftkit api serve``, which runs beside the tools).

Example::

    for check, severity, message in platform_rules(task, "azure", "https://res.openai.azure.com"):
        print(severity, check, message)
"""

from __future__ import annotations

import ipaddress
import math
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rftkit import outbound
from rftkit.task import RFTTask
from rftkit.toolserver.deployment import deploy_hint

SPEC = "OpenAI OpenAPI spec (FineTuneReinforcementHyperparameters)"
AZURE_VALIDATION = "Azure OpenAI reinforcement fine-tuning how-to (learn.microsoft.com)"
RESOLVE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Limit:
    """A numeric hyperparameter's published range; ``above`` is exclusive, ``low`` inclusive."""

    whole: bool
    low: float | None = None
    above: float | None = None
    high: float | None = None

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be 'auto' or a number"
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if self.whole and isinstance(value, float) and not value.is_integer():
            return "must be a whole number"  # an int of any size is whole: never float() it
        if self.low is not None and value < self.low:
            return f"must be at least {self.low:g}"
        if self.above is not None and value <= self.above:
            return f"must be above {self.above:g}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high:g}"
        return None

    def text(self) -> str:
        low = f">= {self.low:g}" if self.low is not None else f"> {self.above:g}"
        high = f", <= {self.high:g}" if self.high is not None else ""
        return f"{'whole number ' if self.whole else ''}{low}{high}"


HYPERPARAMETER_LIMITS: dict[str, Limit] = {
    "n_epochs": Limit(whole=True, low=1, high=50),
    "batch_size": Limit(whole=True, low=1, high=256),
    "compute_multiplier": Limit(whole=False, above=0.00001, high=10),
    "eval_interval": Limit(whole=True, low=1),
    "eval_samples": Limit(whole=True, low=1),
    "learning_rate_multiplier": Limit(whole=False, above=0),
}


def hyperparameter_problems(hyperparameters: dict[str, Any]) -> list[str]:
    """One sentence per hyperparameter outside its published range (``auto`` is always fine)."""
    found = []
    for name, value in hyperparameters.items():
        limit = HYPERPARAMETER_LIMITS.get(name)
        if limit is None or value == "auto":
            continue
        if problem := limit.problem(value):
            found.append(f"{name}={value!r} {problem} (published range: {limit.text()}; {SPEC})")
    return found


def _task_urls(task: RFTTask) -> Iterator[tuple[str, str]]:
    for tool in task.tools:
        yield f"tool {tool.name}", tool.server_url

    def graders(grader: Any, path: str) -> Iterator[tuple[str, str]]:
        if not isinstance(grader, dict):
            return
        if grader.get("type") == "endpoint" and isinstance(grader.get("url"), str):
            yield f"endpoint grader {path}", grader["url"]
        for name, sub in (grader.get("graders") or {}).items():
            yield from graders(sub, f"{path}.{name}")

    yield from graders(task.grader, "grader")


def _not_public(address: str) -> bool:
    """Judged as the local API's outbound policy judges it (``rftkit.outbound``)."""
    ip = ipaddress.ip_address(address)
    return outbound.never_allowed(ip) or outbound.is_internal(ip) or not ip.is_global


def _resolve(host: str) -> list[str]:
    """The host's addresses, or [] when it does not resolve within RESOLVE_TIMEOUT_S."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(socket.getaddrinfo, host, None)
        try:
            return sorted({info[4][0] for info in future.result(RESOLVE_TIMEOUT_S)})
        except (OSError, FutureTimeout, UnicodeError):
            return []


def private_reason(url: str, resolve: bool = True) -> str | None:
    """Why ``url`` cannot be reached from the internet (None when it may be)."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if not host:
        return "it has no host"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return f"{host} is a local name"
    try:
        return f"{host} is a non-public address" if _not_public(host) else None
    except ValueError:
        pass  # a name, not an address
    addresses = _resolve(host) if resolve else []
    if addresses and all(_not_public(a) for a in addresses):
        return f"{host} resolves only to non-public addresses ({', '.join(addresses)})"
    return None


def platform_rules(
    task: RFTTask, platform: str, platform_url: str | None = None, *, resolve: bool = True
) -> list[tuple[str, str, str]]:
    """``(check, severity, message)`` for every platform rule ``task`` breaks on ``platform``
    (``openai`` or ``azure``), reached at ``platform_url`` (None: the public service)."""
    found: list[tuple[str, str, str]] = []
    for problem in hyperparameter_problems(task.hyperparameters):
        found.append(("hyperparameters", "error", problem))
    if platform == "azure" and task.validation_file is None:
        found.append(
            (
                "data: validation",
                "error",
                "Azure AI Foundry refuses an RFT job without a validation file ('Both a training "
                f"and a validation dataset must be provided'; {AZURE_VALIDATION}): add one",
            )
        )
    local_platform = platform_url is not None and private_reason(platform_url, resolve) is not None
    for what, url in _task_urls(task):
        reason = private_reason(url, resolve)
        if reason is None:
            continue
        if local_platform:
            found.append(
                (
                    "reachable URLs",
                    "warning",
                    f"{what} at {url}: {reason}; fine for the local platform at {platform_url}, "
                    "but a hosted trainer cannot reach it",
                )
            )
        else:
            found.append(
                (
                    "reachable URLs",
                    "error",
                    f"{what} at {url}: {reason}, which {platform} cannot reach from its network; "
                    + (
                        f"{deploy_hint(task.root)}, and put its URL in the task"
                        if what.startswith("tool ")
                        else "deploy it on a public HTTPS URL and put that URL in the task"
                    ),
                )
            )
    return found
