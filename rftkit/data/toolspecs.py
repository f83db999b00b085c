"""Where a dataset's ``tools`` array comes from: the tool service that will answer the calls.

The specs are never written by hand. In process they come from the toolbox itself
(``toolbox.specs()``; the course's are ``rftkit.course.dataset.course_tool_specs``); from a
running service they come from ``GET {url}/tools``, which answers the same list. Taking them from
the service is what keeps the dataset's tool names equal to the job's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from rftkit.protocol import FunctionTool, ToolSpecError

ToolSpecsError = ToolSpecError
"""``GET {url}/tools`` gave no list of specs. The message holds no URL and no reply body, so it
cannot carry a credential; the caller names the service."""


def fetch_tool_specs(
    base_url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """The specs a running tool service serves at ``GET {base_url}/tools``.

    ``headers`` are the job's headers for that service (a protected service answers 401
    without its token). Raises :class:`ToolSpecsError` saying what went wrong.
    """
    try:
        response = httpx.get(
            f"{base_url.rstrip('/')}/tools", headers=dict(headers or {}), timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ToolSpecsError(f"GET /tools failed ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise ToolSpecsError(f"GET /tools answered {response.status_code}: check the headers")
    if response.status_code != 200:
        raise ToolSpecsError(f"GET /tools answered {response.status_code}")
    try:
        specs = response.json()
    except ValueError:
        raise ToolSpecsError("GET /tools did not answer JSON") from None
    if not isinstance(specs, list):
        raise ToolSpecsError(f"GET /tools answered {type(specs).__name__}, not a list of specs")
    return specs


def tool_names(specs: list[dict[str, Any]]) -> list[str]:
    """The function names in a list of tool specs (ToolSpecError for a spec without one)."""
    return [FunctionTool.parse(spec).name for spec in specs]
