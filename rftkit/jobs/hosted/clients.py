"""Building the ``openai`` client for a platform from the environment, for the CLI and notebooks.

Python callers usually build their own client and pass it in; this covers the common cases:

- ``openai``: ``OpenAI()`` (``OPENAI_API_KEY``), or any ``base_url``;
- ``azure``: the v1 URL ``{AZURE_OPENAI_ENDPOINT}/openai/v1/`` with ``AZURE_OPENAI_API_KEY``;
- a Foundry project (``AZURE_AI_PROJECT_ENDPOINT``): ``AIProjectClient(...).get_openai_client()``
  with an Entra token, from the optional ``azure`` extra (``pip install 'rftkit[azure]'``).

Missing settings raise :class:`ValueError` naming the variable, never showing a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import openai

from rftkit.jobs.hosted.api import Platform

AZURE_ENDPOINT = "AZURE_OPENAI_ENDPOINT"
AZURE_KEY = "AZURE_OPENAI_API_KEY"
FOUNDRY_PROJECT = "AZURE_AI_PROJECT_ENDPOINT"


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
    endpoint = base_url or env.get(AZURE_ENDPOINT)
    if not endpoint:
        raise ValueError(
            f"the azure backend needs --base-url, {AZURE_ENDPOINT} or {FOUNDRY_PROJECT}"
        )
    key = env.get(AZURE_KEY)
    if not key:
        raise ValueError(f"the azure backend needs {AZURE_KEY} in the environment")
    if not base_url:
        endpoint = endpoint.rstrip("/") + "/openai/v1/"
    return openai.OpenAI(api_key=key, base_url=endpoint)
