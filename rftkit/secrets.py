"""Secrets in request headers: one reference dialect, one mask, one walker.

A header value that needs a secret names an environment variable, ``"Bearer ${TOOL_TOKEN}"``; the
value is filled in only when a request is sent, so task files, command lines and logs hold the
reference, never the token. The dialect is ``${NAME}`` alone (``$$`` is a literal ``$``): a bare
``$NAME`` is an error that says to write ``${NAME}``, because it used to mean a reference on the
command line and a literal in a task file, and a token sent as the text ``$TOKEN`` fails far from
where it was written.

Everything that shows a secret-bearing value passes it through this module: header values are
shown as :data:`MASK` (what the hosted service echoes), secrets found in free text (an error
body, an echoed reply) are replaced by it, and :func:`header_dicts` is the one walk over a
request body that finds every ``headers`` object, at any depth (job tools, endpoint graders,
graders nested in ``multi``).

Example::

    >>> resolve("Bearer ${TOK}", {"TOK": "s3cret-value"}, "tools[search].headers.Authorization")
    'Bearer s3cret-value'
    >>> mask_headers({"tools": [{"name": "search", "headers": {"Authorization": "Bearer x"}}]})
    {'tools': [{'name': 'search', 'headers': {'Authorization': '**********'}}]}
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from rftkit.errors import RFTKitError
from rftkit.protocol import MASKED_HEADER_VALUE

MASK = MASKED_HEADER_VALUE
"""What a secret is shown as, everywhere: the hosted service echoes header values this way."""
MIN_SECRET_CHARS = 4
"""Shorter values are not masked in free text: masking every ``t`` protects nothing and makes the
text unreadable."""
SECRET_HEADER = re.compile(r"authorization|key|token|secret|cookie|password", re.IGNORECASE)
"""Header names whose values are secrets: a file may hold only references for them."""

_TOKEN = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_USERINFO = re.compile(r"(?<=://)[^/@\s\"']+@")


class SecretReferenceError(ValueError, RFTKitError):
    """A header value written in a dialect rftkit does not read (``$NAME``)."""


class MissingSecretError(LookupError, RFTKitError):
    """A header references an environment variable that is not set; names it, never a value."""


def references(value: str) -> list[str]:
    """The environment variables ``value`` references as ``${NAME}``, in order."""
    return [m.group(1) for m in _TOKEN.finditer(value) if m.group(1)]


def check_dialect(value: str, where: str) -> None:
    """SecretReferenceError naming ``where`` when ``value`` holds a bare ``$NAME``."""
    bare = [m.group(2) for m in _TOKEN.finditer(value) if m.group(2)]
    if bare:
        fixed = ", ".join(f"${{{name}}}" for name in bare)
        raise SecretReferenceError(
            f"{where}: ${bare[0]} is not a reference; write {fixed} to read the environment "
            "variable (or $$ for a literal '$')"
        )


def resolve(value: str, env: Mapping[str, str], where: str) -> str:
    """``value`` with each ``${NAME}`` filled in from ``env`` and ``$$`` made ``$``.

    ``where`` says where the value came from (``--header Authorization``,
    ``tools[search].headers.Authorization``); every error names it and the variable, never a value.
    """
    check_dialect(value, where)
    missing = list(dict.fromkeys(name for name in references(value) if not env.get(name)))
    if missing:
        noun = "variable" if len(missing) == 1 else "variables"
        verb = "is" if len(missing) == 1 else "are"
        raise MissingSecretError(
            f"{where}: environment {noun} {', '.join(missing)} {verb} not set "
            "(export it, or pass env={...} to the call)"
        )
    return _TOKEN.sub(lambda m: "$" if m.group(0) == "$$" else env[m.group(1)], value)


def resolve_headers(
    headers: Mapping[str, str], env: Mapping[str, str], where: str
) -> dict[str, str]:
    """Every value of ``headers`` resolved (:func:`resolve`); ``where`` names the headers object."""
    return {key: resolve(value, env, f"{where}.{key}") for key, value in headers.items()}


def check_stored_headers(headers: Mapping[str, Any], where: str) -> None:
    """ValueError naming the header unless ``headers`` may be stored in a file: string values in
    the ``${NAME}`` dialect, and secret-looking headers (:data:`SECRET_HEADER`) only references."""
    for key, value in headers.items():
        if not isinstance(value, str):
            raise ValueError(f"{where}.{key} must be a string, not {type(value).__name__}")
        check_dialect(value, f"{where}.{key}")
        if SECRET_HEADER.search(key) and not references(value):
            raise ValueError(
                f"{where}.{key} holds a literal value; a task file stores only references to "
                "environment variables, e.g. 'Bearer ${MY_TOOL_TOKEN}'"
            )


# -- the one walk over request bodies -------------------------------------------------------------
def header_dicts(body: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(path, headers)`` for every ``headers`` object inside ``body``, at any depth; ``path`` is
    dotted (``grader.graders.judge.headers``, ``tools[0].headers``)."""
    if isinstance(body, dict):
        for key, value in body.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "headers" and isinstance(value, dict):
                yield where, value
            else:
                yield from header_dicts(value, where)
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from header_dicts(value, f"{path}[{index}]")


def map_headers(body: Any, change: Callable[[str, str, Any], Any], path: str = "") -> Any:
    """A copy of ``body`` with every header value ``v`` of every ``headers`` object replaced by
    ``change(path_of_headers, name, v)``."""
    if isinstance(body, dict):
        copy = {}
        for key, value in body.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "headers" and isinstance(value, dict):
                copy[key] = {name: change(where, name, v) for name, v in value.items()}
            else:
                copy[key] = map_headers(value, change, where)
        return copy
    if isinstance(body, list):
        return [map_headers(value, change, f"{path}[{i}]") for i, value in enumerate(body)]
    return body


def mask_headers(body: Any) -> Any:
    """A copy of ``body`` with every header value, at any depth, shown as :data:`MASK`."""
    return map_headers(body, lambda _path, _name, _value: MASK)


def header_values(body: Any) -> Iterator[str]:
    """Every string header value anywhere in ``body``: what must never be shown."""
    for _, headers in header_dicts(body):
        yield from (value for value in headers.values() if isinstance(value, str))


# -- secrets in free text -------------------------------------------------------------------------
def _spellings(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}


def secrets_of(headers: Mapping[str, str] | None = None, urls: Iterable[str] = ()) -> set[str]:
    """Every string that would give away a header value or URL credential: the value, the token
    after ``Bearer``/``Basic``, their JSON-escaped and URL-quoted spellings, and for URL
    credentials the base64 ``user:pass`` that HTTP clients send as Basic auth."""
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


def strip_userinfo(text: str) -> str:
    """``https://user:pass@host/x`` → ``https://**********@host/x``, anywhere in ``text``."""
    return _USERINFO.sub(f"{MASK}@", text)


def _pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation, longest first: a secret inside another is masked with it, in one pass."""
    kept = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, kept))) if kept else None


class Redactor:
    """Replaces each known secret and any URL userinfo with :data:`MASK`. Secrets shorter than
    :data:`MIN_SECRET_CHARS` are left alone."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pattern = _pattern(secrets)

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return strip_userinfo(text)

    def __repr__(self) -> str:
        return "Redactor(...)"


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (of at least :data:`MIN_SECRET_CHARS`) shown as
    :data:`MASK`; URL userinfo is left to :func:`mask_urls`."""
    pattern = _pattern(secrets)
    return text if pattern is None else pattern.sub(MASK, text)


# -- secrets in URLs ------------------------------------------------------------------------------
# A tool or grader URL can carry its secret in the URL itself (``https://user:pass@host/``,
# ``https://host/call?api_key=…``, a signed URL's ``sig=``), and job objects, events, error details
# and logs all quote URLs: whatever quotes one passes through mask_urls or masked on its way out.
_SECRET_PARAM = re.compile(
    r"key|token|secret|sig|pass|pwd|auth|credential|session|code|jwt|bearer", re.IGNORECASE
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_URL_USERINFO = re.compile(r"(?<=://)[^/@?#\s]+@")
_PARAM = re.compile(r"(?<=[?&;])([^=&;#\s]+)=([^&;#\s]*)")


def _mask_url(match: re.Match[str]) -> str:
    url = _URL_USERINFO.sub(f"{MASK}@", match.group(0), count=1)

    def value(param: re.Match[str]) -> str:
        name = param.group(1)
        return f"{name}={MASK}" if _SECRET_PARAM.search(name) and param.group(2) else param.group(0)

    if "?" not in url:
        return url
    head, _, tail = url.partition("?")
    return f"{head}?{_PARAM.sub(value, '?' + tail)[1:]}"


def mask_urls(text: str) -> str:
    """``text`` with every URL's userinfo and secret-looking query values (``api_key``, ``token``,
    ``sig``, ``password``, ``x-amz-signature``…) masked; other parameters stay readable.

    >>> mask_urls("calling https://bob:hunter2@tools.example/call?api_key=k1&top=3")
    'calling https://**********@tools.example/call?api_key=**********&top=3'
    """
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


# -- headers from the command line ----------------------------------------------------------------
# ``--header 'Authorization: Bearer ${TOOL_TOKEN}'`` (single quotes, so the shell leaves it alone)
# sends the variable's value, so the secret never appears in shell history or process listings.
class HeaderError(ValueError, RFTKitError):
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
