"""OpenAI grader templates: ``{{ item.x }}``, ``{{ sample.output_tools[0].function.name }}``.

One implementation shared by the local grader engine (which renders them) and the dataset
validator (which checks that every line can fill them). The syntax is small enough that a regex
and a path walker are clearer than a template engine; Jinja would accept far more than the service
does, and its errors would not name the missing path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from rftkit.errors import RFTKitError

NAMESPACES = ("item", "sample")
PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]")


class TemplateError(ValueError, RFTKitError):
    """A placeholder that cannot be filled; ``variable`` is the path as written."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{{{{{variable}}}}}: {reason}")
        self.variable = variable
        self.reason = reason


def parse_path(variable: str) -> tuple[str, list[str | int]]:
    """Split ``sample.output_tools[0].function.name`` into its namespace and steps."""
    steps: list[str | int] = []
    pos = 0
    while pos < len(variable):
        match = _STEP.match(variable, pos)
        if match is None or (pos == 0 and match.group(0).startswith(".")):
            raise TemplateError(variable, f"cannot parse the path at position {pos}")
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if not steps or steps[0] not in NAMESPACES:
        raise TemplateError(variable, f"the namespace must be one of {', '.join(NAMESPACES)}")
    return str(steps[0]), steps[1:]


def variables(text: str) -> Iterator[str]:
    """Every placeholder in ``text``, as written (without braces)."""
    for match in PLACEHOLDER.finditer(text):
        yield match.group(1)


def resolve(variable: str, context: Mapping[str, Any]) -> Any:
    """The value at ``variable`` in ``{"item": ..., "sample": ...}``; TemplateError if absent."""
    namespace, steps = parse_path(variable)
    value: Any = context.get(namespace)
    walked = namespace
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                size = len(value) if isinstance(value, list) else "not a list"
                raise TemplateError(variable, f"{walked}[{step}] does not exist ({size})")
            value = value[step]
            walked += f"[{step}]"
        else:
            if not isinstance(value, Mapping) or step not in value:
                raise TemplateError(variable, f"{walked} has no field {step!r}")
            value = value[step]
            walked += f".{step}"
    return value


def as_text(value: Any) -> str:
    """How a value appears inside rendered text: strings as is, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render(text: str, context: Mapping[str, Any]) -> str:
    """Fill every placeholder in ``text``; the first unfillable one raises TemplateError."""
    return PLACEHOLDER.sub(lambda m: as_text(resolve(m.group(1), context)), text)


def item_fields(text: str) -> set[str]:
    """Top-level ``item`` keys that ``text`` reads (what every dataset line must carry)."""
    fields = set()
    for variable in variables(text):
        namespace, steps = parse_path(variable)
        if namespace == "item" and steps and isinstance(steps[0], str):
            fields.add(steps[0])
    return fields
