"""Bounded JSON parsing for text a model or a user wrote: a clear ValueError, never a crash.

``json.loads`` recurses once per nesting level, so ``"[" * 5000`` raises RecursionError (which
no ``except ValueError`` catches) and a few megabytes of input are read before anything is
refused. It also accepts what strict JSON forbids and other parsers read differently: ``NaN`` and
``Infinity``, numbers that overflow to infinity, duplicate keys (the last one silently wins) and
``\\ud800`` escapes that decode to a lone surrogate (which no UTF-8 encoder can write back out).
:func:`loads` checks size first, then nesting depth with a linear scan that never recurses, then
parses with the standard library, refusing each of those unless told to allow it.

Deliberately the standard library plus hooks: of the installed parsers, pydantic-core's has a
fixed depth limit and keeps the last duplicate key without a word, and none reports duplicates.
This module imports nothing else of rftkit's, so it sits at the same layer as ``rftkit.protocol``.

Example::

    >>> loads('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> loads("[" * 5000)
    Traceback (most recent call last):
    ...
    rftkit._util.jsonsafe.JSONLimitError: JSON nests deeper than 64 levels
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from rftkit.errors import RFTKitError

MAX_DEPTH = 64
"""Default nesting limit: tool arguments, grader replies and dataset lines need far fewer."""

MAX_BYTES = 1_000_000
"""Default size limit: the trainer's payload limit (``rftkit.protocol.MAX_PAYLOAD_BYTES``)."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONLimitError(ValueError, RFTKitError):
    """JSON that parses, or would, but is refused; ``code`` says why, ``path`` where if known.

    Codes: ``too_large``, ``too_deep``, ``not_utf8``, ``non_finite``, ``duplicate_key``,
    ``lone_surrogate``, ``number_too_long``. Syntax errors stay ``json.JSONDecodeError``; both are
    ValueErrors, so ``except ValueError`` catches every refusal.
    """

    def __init__(self, code: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.path = path


def loads(
    text: str | bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    allow_non_finite: bool = False,
    allow_duplicate_keys: bool = False,
    allow_lone_surrogates: bool = False,
) -> Any:
    """Parse ``text`` as JSON within ``max_bytes`` and ``max_depth``; ValueError for anything else.

    Bytes must be UTF-8. Refused unless allowed: ``NaN``/``Infinity`` and numbers beyond a float's
    range (``allow_non_finite``), a key repeated in one object (``allow_duplicate_keys``), a
    ``\\u`` escape that leaves a lone surrogate (``allow_lone_surrogates``).
    """
    if isinstance(text, bytes | bytearray):
        if len(text) > max_bytes:
            raise JSONLimitError("too_large", f"JSON of {len(text)} bytes is over {max_bytes}")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONLimitError("not_utf8", f"byte {exc.start} is not valid UTF-8") from None
    elif len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise JSONLimitError("too_large", f"JSON of more than {max_bytes} bytes")
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text) > max_depth:
        raise JSONLimitError("too_deep", f"JSON nests deeper than {max_depth} levels")
    try:
        value = json.loads(
            text,
            object_pairs_hook=dict if allow_duplicate_keys else _unique_keys,
            parse_constant=_non_finite_constant(allow_non_finite),
            parse_float=float if allow_non_finite else _finite_float,
        )
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError | JSONLimitError):
            raise
        # Python's int() refuses more than 4300 digits (sys.get_int_max_str_digits).
        raise JSONLimitError("number_too_long", f"a number is too long: {exc}") from None
    if not allow_lone_surrogates:
        where = lone_surrogate_path(value)
        if where is not None:
            raise JSONLimitError(
                "lone_surrogate", f"{where} holds a lone UTF-16 surrogate escape", where
            )
    return value


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text``, found without recursion (strings skipped).

    Meant as a guard before parsing: for text that is not JSON the figure is only indicative.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def lone_surrogate_path(value: Any) -> str | None:
    """Where in a parsed value a string (or key) holds a lone surrogate, or None if none does."""
    try:  # the common case at C speed; the walk below only runs to name the place
        json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str) and not _encodes(node):
            return path
        if isinstance(node, dict):
            for key, item in node.items():
                if not _encodes(key):
                    return f"{path} (a key)"
                stack.append((f"{path}.{key}", item))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))
    return None


def well_formed(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, so that it encodes as UTF-8.

    A model's output can hold one (the ``openai`` SDK decodes ``\\ud800`` escapes with
    ``json``), and one such character makes every later JSON encoding of it fail.
    """
    if _encodes(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONLimitError("duplicate_key", f"key {key!r} appears twice in one object")
            seen.add(key)
    return value


def _non_finite_constant(allow: bool) -> Any:
    def parse(name: str) -> float:
        if not allow:
            raise JSONLimitError("non_finite", f"{name} is not valid JSON (numbers must be finite)")
        return float(name)

    return parse


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONLimitError("non_finite", f"number {text[:40]} is beyond a float's range")
    return value
