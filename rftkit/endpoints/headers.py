"""Request headers from the command line, with secrets read from environment variables.

``--header 'Authorization: Bearer ${TOOL_TOKEN}'`` (single quotes, so the shell leaves it alone)
sends the variable's value; the secret never appears in shell history or process listings. The
dialect is a task file's (:mod:`rftkit.secrets`): ``${NAME}`` is a reference, ``$$`` a literal
``$``; a bare ``$NAME`` and a variable that is not set are errors naming the header.

Example::

    headers = parse_headers(["Authorization: Bearer ${TOOL_TOKEN}", "X-Team: search"])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from rftkit.secrets import MissingSecretError, SecretReferenceError, resolve


class HeaderError(ValueError):
    """A ``--header`` option that cannot be used; the message names the option or variable."""


def parse_headers(
    options: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``["Name: value", ...]`` → ``{"Name": resolved value}``; errors name the bad option."""
    environ = os.environ if environ is None else environ
    headers: dict[str, str] = {}
    for number, option in enumerate(options, 1):
        name, colon, value = option.partition(":")
        name = name.strip()
        if not colon or not name or any(c.isspace() for c in name):
            raise HeaderError(
                f"--header #{number}: expected 'Name: value', got a {len(option)}-"
                "character option without a header name before ':'"
            )
        try:
            headers[name] = resolve(value.strip(), environ, f"--header {name}")
        except (MissingSecretError, SecretReferenceError) as exc:
            raise HeaderError(str(exc)) from None
    return headers


def with_token(
    headers: Mapping[str, str], token_env: str, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``headers`` plus ``Authorization: Bearer $token_env`` when that is set and none is given."""
    environ = os.environ if environ is None else environ
    token = environ.get(token_env) or None
    has_auth = any(name.lower() == "authorization" for name in headers)
    if token is None or has_auth:
        return dict(headers)
    return {**headers, "Authorization": f"Bearer {token}"}
