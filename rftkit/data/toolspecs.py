"""Where a dataset's ``tools`` array comes from: the tool service that will answer the calls.

The specs are never written by hand. In process they come from the course's toolbox; from a
running service they come from ``GET {url}/tools``, which answers the same list. Taking them from
the service is what keeps the dataset's tool names equal to the job's.
"""

from __future__ import annotations

from typing import Any

import httpx


def course_tool_specs() -> list[dict[str, Any]]:
    """The course's tools (search, list_files, read_file, calculator) in chat-completions format."""
    from tools_service.tools import toolbox  # the service package; imported only when asked

    return toolbox.specs()


def fetch_tool_specs(base_url: str, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The specs a running tool service serves at ``GET {base_url}/tools``."""
    response = httpx.get(f"{base_url.rstrip('/')}/tools", timeout=timeout)
    response.raise_for_status()
    specs = response.json()
    if not isinstance(specs, list):
        raise ValueError(f"{base_url}/tools answered {type(specs).__name__}, not a list of specs")
    return specs


def tool_names(specs: list[dict[str, Any]]) -> list[str]:
    """The function names in a list of chat-completions tool specs."""
    return [spec["function"]["name"] for spec in specs]
