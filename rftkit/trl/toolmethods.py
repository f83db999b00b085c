"""A task's tool specs as Python methods whose TRL-derived schema is the spec.

TRL shows an environment's public methods to the model as tools, and derives each schema from the
method's type hints and Google-style docstring (``transformers.utils.get_json_schema``). The task
already has the schema: the dataset lines' ``tools`` array (chat-completions function specs, which
come from the tool service). So the methods are *generated* from the specs, never written a second
time, and each generated method is checked at once: ``get_json_schema(method)`` must equal the
spec, or generation fails naming the tool and what differs.

What the extractor cannot say, and is therefore left out of what the model reads (documented, and
the only difference the check tolerates):

- ``additionalProperties`` of the parameters object: the tool service still refuses unknown
  arguments with a 4xx, which the model reads;
- a parameter's ``default``: the argument becomes optional in the signature, and when the model
  leaves it out it is left out of the call, so the *service* applies its default;
- ``required: []`` (an empty list is the same as none).

Anything else the extractor cannot reproduce (nested object properties, ``minimum``, ``anyOf`` ...)
is an error: a model trained on a schema other than the one the service enforces learns the wrong
tool.
"""

from __future__ import annotations

import inspect
import json
import keyword
from collections.abc import Callable, Mapping
from typing import Any, Literal

from rftkit.protocol import FunctionTool, ToolSpecError

TOLERATED = ("additionalProperties", "default")
"""Keys the schema extractor cannot emit; they are dropped from the spec before comparing."""
RESERVED = frozenset({"reset", "get_reward"})
"""Method names TRL treats specially on an environment, so no tool may take them."""

_SCALARS: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}


def spec_function(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The ``function`` part of a tool spec (:meth:`rftkit.protocol.FunctionTool.parse`)."""
    return FunctionTool.parse(spec).function()


def expressible(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec as TRL's extractor can express it: the tolerated keys dropped (see module doc)."""
    function = spec_function(spec)
    parameters = dict(function.get("parameters") or {"type": "object", "properties": {}})
    parameters.pop("additionalProperties", None)
    if not parameters.get("required"):
        parameters.pop("required", None)
    parameters["properties"] = {
        name: {k: v for k, v in schema.items() if k not in TOLERATED}
        for name, schema in (parameters.get("properties") or {}).items()
    }
    return {"type": "function", "function": {**function, "parameters": parameters}}


def _hint(tool: str, name: str, schema: Mapping[str, Any]) -> Any:
    """The Python type hint whose JSON schema is ``schema`` (enums become ``Literal``)."""
    kind = schema.get("type")
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise ToolSpecError(f"tool {tool!r}, parameter {name!r}: enum must be a non-empty list")
        return Literal[tuple(values)]
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        items = schema.get("items")
        return list if items is None else list[_hint(tool, name, items)]
    if kind == "object" and "properties" not in schema:
        extra = schema.get("additionalProperties")
        return dict if not isinstance(extra, Mapping) else dict[str, _hint(tool, name, extra)]
    raise ToolSpecError(
        f"tool {tool!r}, parameter {name!r}: the schema {json.dumps(dict(schema))[:120]} cannot be "
        "expressed by TRL's schema extraction (type hints + docstring); use scalar, enum, array or "
        "free-form object parameters"
    )


def _docstring(function: Mapping[str, Any]) -> str:
    description = function.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ToolSpecError(f"tool {function['name']!r}: needs a description (the model reads it)")
    lines = [description.strip()]
    properties = (function.get("parameters") or {}).get("properties") or {}
    if properties:
        lines += ["", "Args:"]
        for name, schema in properties.items():
            text = schema.get("description")
            if not isinstance(text, str) or not text.strip():
                raise ToolSpecError(
                    f"tool {function['name']!r}, parameter {name!r}: needs a description"
                )
            lines.append(f"    {name}: {text.strip()}")
    return "\n".join(lines)


def tool_method(spec: Mapping[str, Any], call: Callable[[Any, str, dict[str, Any]], str]) -> Any:
    """A method ``name(self, **arguments)`` that runs ``call(self, name, arguments)``, with the
    signature, annotations and docstring that make TRL derive exactly ``spec`` (checked here).

    Only the arguments the model gave are passed on (never the signature's defaults).
    """
    function = spec_function(spec)
    name = function["name"]
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ToolSpecError(
            f"tool {name!r}: TRL calls tools as Python methods, so the name must be an identifier "
            "that does not start with '_'"
        )
    if name in RESERVED:
        raise ToolSpecError(f"tool {name!r}: the name is reserved by TRL's environment API")
    parameters = function.get("parameters") or {}
    required = set(parameters.get("required") or [])
    properties = parameters.get("properties") or {}
    unknown = sorted(required - set(properties))
    if unknown:
        raise ToolSpecError(f"tool {name!r}: required {unknown} are not among its properties")
    signature_parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for parameter in properties:  # keyword-only, so the spec's order survives any defaults
        if not parameter.isidentifier() or keyword.iskeyword(parameter) or parameter == "self":
            raise ToolSpecError(
                f"tool {name!r}, parameter {parameter!r}: must be a Python identifier"
            )
        hint = _hint(name, parameter, properties[parameter])
        annotations[parameter] = hint
        default = (
            inspect.Parameter.empty
            if parameter in required
            else properties[parameter].get("default")
        )
        signature_parameters.append(
            inspect.Parameter(
                parameter, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint
            )
        )
    annotations["return"] = str

    def method(self: Any, **arguments: Any) -> str:
        return call(self, name, arguments)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = _docstring(function)
    method.__annotations__ = annotations
    method.__signature__ = inspect.Signature(signature_parameters, return_annotation=str)
    check_round_trip(method, spec)
    return method


def check_round_trip(method: Callable[..., Any], spec: Mapping[str, Any]) -> None:
    """Raise ToolSpecError unless TRL's extractor, on ``method``, gives back ``spec``."""
    from transformers.utils.chat_template_utils import (
        DocstringParsingException,
        TypeHintParsingException,
        get_json_schema,
    )

    name = spec_function(spec)["name"]
    try:
        derived = get_json_schema(method)
    except (DocstringParsingException, TypeHintParsingException, ValueError) as exc:
        raise ToolSpecError(f"tool {name!r}: TRL cannot derive its schema ({exc})") from None
    derived["function"].pop("return", None)
    wanted = expressible(spec)
    if derived != wanted:
        raise ToolSpecError(
            f"tool {name!r}: TRL would show the model "
            f"{json.dumps(derived, sort_keys=True)[:300]} instead of the spec "
            f"{json.dumps(wanted, sort_keys=True)[:300]}"
        )


def task_tool_specs(items: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tool specs the dataset lines offer, one per name; a name with two specs is an error."""
    specs: dict[str, dict[str, Any]] = {}
    for line, item in enumerate(items, start=1):
        for spec in item.get("tools") or []:
            name = spec_function(spec)["name"]
            if name in specs and specs[name] != spec:
                raise ToolSpecError(
                    f"line {line}: tool {name!r} has a different spec than on an earlier line; a"
                    " TRL environment exposes one method per tool"
                )
            specs[name] = spec
    return list(specs.values())
