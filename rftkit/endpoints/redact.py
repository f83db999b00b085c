"""Keep secrets out of everything the readiness check prints, reports, plots or raises.

The secrets are the job's header values (tokens, API keys) and URL credentials
(``https://user:pass@host``). An endpoint may echo them back — a debugging server that returns the
request headers, an error page that quotes the ``Authorization`` header — so redaction is applied
to every reply text *before* it is shortened for display (a cut token is still a leak), and to
URLs, discard reasons and error messages. Each secret is also matched in the forms it takes on the
way: the bare token after ``Bearer``, the JSON-escaped and URL-quoted spellings, and the base64
``user:pass`` that HTTP clients send as Basic auth for URL credentials.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_SECRET_CHARS = 3
"""Shorter values are not masked in free text (masking every "a" would garble the report)."""

_USERINFO = re.compile(r"(?<=://)[^/@\s\"']+@")


def strip_userinfo(text: str) -> str:
    """``https://user:pass@host/x`` → ``https://***@host/x``, anywhere in ``text``."""
    return _USERINFO.sub(f"{MASK}@", text)


def _spellings(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}


def secrets_of(headers: Mapping[str, str] | None = None, urls: Iterable[str] = ()) -> set[str]:
    """Every string that would give away a header value or URL credential."""
    found: set[str] = set()
    for value in (headers or {}).values():
        found |= _spellings(value)
        scheme, _, token = value.partition(" ")
        if token and scheme.isalpha():  # "Bearer <token>", "Basic <base64>"
            found |= _spellings(token.strip())
    for url in urls:
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
        if not userinfo:
            continue
        user, _, password = (unquote(part) for part in userinfo.partition(":"))
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        for secret in (userinfo, f"{user}:{password}", user, password, basic):
            found |= _spellings(secret)
    return {s for s in found if len(s) >= MIN_SECRET_CHARS}


class Redactor:
    """Replaces each known secret (longest first) and any URL userinfo with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        ordered = sorted(set(secrets), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return strip_userinfo(text)

    def __repr__(self) -> str:
        return "Redactor(...)"
