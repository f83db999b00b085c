"""Request headers from the command line, with secrets read from environment variables.

``--header 'Authorization: Bearer $TOOL_TOKEN'`` (single quotes, so the shell leaves ``$TOOL_TOKEN``
alone) sends the variable's value; the secret never appears in shell history or process
listings. ``$NAME`` and ``${NAME}`` are replaced (``$$`` is a literal ``$``), by the standard
library's :class:`string.Template`; a variable that is not set is an error naming it.

Example::

    headers = parse_headers(["Authorization: Bearer $TOOL_TOKEN", "X-Team: search"])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from string import Template

from rftkit.errors import RFTKitError


class HeaderError(ValueError, RFTKitError):
    """A ``--header`` option that cannot be used; the message names the option or variable."""


def resolve_env_references(value: str, environ: Mapping[str, str] | None = None) -> str:
    """``value`` with every ``$NAME``/``${NAME}`` replaced by that environment variable."""
    environ = os.environ if environ is None else environ
    try:
        return Template(value).substitute(environ)
    except KeyError as missing:
        raise HeaderError(f"environment variable {missing.args[0]} is not set") from None
    except ValueError:
        raise HeaderError("a '$' that is not a $NAME reference (write $$ for a '$')") from None


def parse_headers(
    options: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``["Name: value", ...]`` → ``{"Name": resolved value}``; errors name the bad option."""
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
            headers[name] = resolve_env_references(value.strip(), environ)
        except HeaderError as exc:
            raise HeaderError(f"--header {name}: {exc}") from None
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
