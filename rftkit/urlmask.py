"""URLs as they may be shown: credentials in userinfo or in the query string masked.

A tool or grader URL can carry its secret in the URL itself — ``https://user:pass@host/``,
``https://host/call?api_key=…``, a signed URL's ``sig=`` — and job objects, events, error details
and logs all quote URLs. :func:`mask_urls` masks every URL inside a text, :func:`masked` every
string inside a JSON-like value, so whatever quotes a URL can pass through one of them on its way
out. Values of query parameters whose names look secret (``api_key``, ``token``, ``sig``,
``password``, ``x-amz-signature``…) become :data:`rftkit.secrets.MASK`; the other parameters
stay readable.

Example::

    >>> mask_urls("calling https://bob:hunter2@tools.example/call?api_key=k1&top=3")
    'calling https://**********@tools.example/call?api_key=**********&top=3'
"""

from __future__ import annotations

import re
from typing import Any

from rftkit.secrets import MASK

_SECRET_NAME = re.compile(
    r"key|token|secret|sig|pass|pwd|auth|credential|session|code|jwt|bearer", re.IGNORECASE
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_USERINFO = re.compile(r"(?<=://)[^/@?#\s]+@")
_PARAM = re.compile(r"(?<=[?&;])([^=&;#\s]+)=([^&;#\s]*)")


def _mask_url(match: re.Match[str]) -> str:
    url = _USERINFO.sub(f"{MASK}@", match.group(0), count=1)

    def value(param: re.Match[str]) -> str:
        name = param.group(1)
        return f"{name}={MASK}" if _SECRET_NAME.search(name) and param.group(2) else param.group(0)

    if "?" not in url:
        return url
    head, _, tail = url.partition("?")
    return f"{head}?{_PARAM.sub(value, '?' + tail)[1:]}"


def mask_urls(text: str) -> str:
    """``text`` with every URL's userinfo and secret-looking query values masked."""
    return _URL.sub(_mask_url, text) if "://" in text else text


def masked(value: Any) -> Any:
    """A copy of a JSON-like ``value`` with :func:`mask_urls` applied to every string in it."""
    if isinstance(value, str):
        return mask_urls(value)
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [masked(item) for item in value]
    return value
