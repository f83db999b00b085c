"""Building the ``openai`` client for a platform from the environment, for the CLI and notebooks.

Python callers usually build their own client and pass it in; this covers the common cases:

- ``openai``: ``OpenAI()`` (``OPENAI_API_KEY``), or any ``base_url``;
- ``azure``: the v1 URL ``{AZURE_OPENAI_ENDPOINT}/openai/v1/`` with ``AZURE_OPENAI_API_KEY``; a
  ``base_url`` may be the resource URL (``https://RES.openai.azure.com``) or the v1 URL itself
  (``https://RES.openai.azure.com/openai/v1/``): :func:`azure_v1_url` says which it took;
- a Foundry project (``AZURE_AI_PROJECT_ENDPOINT``): ``AIProjectClient(...).get_openai_client()``
  with an Entra token, from the optional ``azure`` extra (``pip install 'rftkit[azure]'``).

Missing settings raise :class:`ValueError` naming the variable, never showing a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import openai

from rftkit.jobs.hosted.api import Platform

AZURE_ENDPOINT = "AZURE_OPENAI_ENDPOINT"
AZURE_KEY = "AZURE_OPENAI_API_KEY"
FOUNDRY_PROJECT = "AZURE_AI_PROJECT_ENDPOINT"


def azure_v1_url(url: str) -> tuple[str, str]:
    """The v1 API URL for an Azure resource given as its resource URL or its v1 URL, and a
    sentence saying which form was given (for the CLI to print)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--base-url must be an http(s) URL, not {url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/openai/v1"):
        return urlunsplit(parts._replace(path=path + "/")), "the /openai/v1/ URL given"
    if path.endswith("/openai"):
        path = path.removesuffix("/openai")
    v1 = urlunsplit(parts._replace(path=f"{path}/openai/v1/", query="", fragment=""))
    return v1, "the resource URL given, with /openai/v1/ added"


def base_url_for(
    platform: Platform, base_url: str | None, env: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The API URL a client for ``platform`` will use and where it came from."""
    env = os.environ if env is None else env
    if platform == "openai":
        return base_url, "--base-url" if base_url else "the openai SDK's default"
    if base_url:
        return azure_v1_url(base_url)
    if env.get(FOUNDRY_PROJECT):
        return None, f"the Foundry project in {FOUNDRY_PROJECT}"
    if env.get(AZURE_ENDPOINT):
        url, _ = azure_v1_url(env[AZURE_ENDPOINT])
        return url, f"{AZURE_ENDPOINT}, with /openai/v1/ added"
    return None, "nothing"


def foundry_client(project_endpoint: str) -> openai.OpenAI:
    """The ``openai`` client of a Foundry project (Entra ID through DefaultAzureCredential)."""
    try:
        from azure.ai.projects import AIProjectClient
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ImportError(
            "a Foundry project client needs the optional extra: pip install 'rftkit[azure]'"
        ) from None
    project = AIProjectClient(endpoint=project_endpoint, credential=DefaultAzureCredential())
    return project.get_openai_client()


def client_for(
    platform: Platform, base_url: str | None = None, env: Mapping[str, str] | None = None
) -> openai.OpenAI:
    """The client for ``platform``; ``base_url`` overrides the endpoint (e.g. a local server)."""
    env = os.environ if env is None else env
    if platform == "openai":
        key = env.get("OPENAI_API_KEY")
        if not key:
            raise ValueError("the openai backend needs OPENAI_API_KEY in the environment")
        return openai.OpenAI(api_key=key, base_url=base_url)
    if not base_url and env.get(FOUNDRY_PROJECT):
        return foundry_client(env[FOUNDRY_PROJECT])
    endpoint, _ = base_url_for(platform, base_url, env)
    if not endpoint:
        raise ValueError(
            f"the azure backend needs --base-url, {AZURE_ENDPOINT} or {FOUNDRY_PROJECT}"
        )
    key = env.get(AZURE_KEY)
    if not key:
        raise ValueError(f"the azure backend needs {AZURE_KEY} in the environment")
    return openai.OpenAI(api_key=key, base_url=endpoint)
