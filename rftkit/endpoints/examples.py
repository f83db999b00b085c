"""Probe calls built from a service's own tools: example arguments from each tool's JSON schema.

A readiness check must call the tools the job will call, with arguments those tools accept, so
the probes come from the tool specs (``GET {url}/tools``, or a dataset line's ``tools`` array)
and from example calls the caller gives, which win over generated ones.

The generator is small and hand-written on purpose: it makes the *plainest* valid object — the
required properties only, each from its ``const``, ``default``, ``examples``, first ``enum`` value,
or a placeholder of its type within its bounds — so the call is readable in the report. Libraries
that generate from schemas (``hypothesis-jsonschema``) produce random, often unreadable instances
for property tests, and none is a runtime dependency here. Every generated object is checked
against its schema with ``jsonschema`` (already a dependency of ``rftkit.data``); a mismatch is
reported, not hidden.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rftkit.endpoints.scenarios import probes_from_scenarios
from rftkit.endpoints.target import Probe
from rftkit.protocol import FunctionTool, ToolSpecError
from rftkit.task import ProbeCall

MAX_DEPTH = 16
_STRING_FORMATS = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


SpecError = ToolSpecError
"""A tool spec the probes cannot be built from (:class:`rftkit.protocol.ToolSpecError`)."""


def spec_name_and_schema(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, parameters schema) of a chat-completions or Responses-API function spec."""
    function = FunctionTool.parse(spec)
    return function.name, dict(function.parameters)


def example_arguments(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The plainest object ``schema`` (a function's parameters) accepts; see the module doc."""
    value = _example(schema, schema, 0)
    if not isinstance(value, dict):
        raise SpecError(f"parameters describe {type(value).__name__}, not an object")
    return value


def schema_mismatch(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` do not match ``schema`` (None when they do, or the schema is unusable)."""
    import jsonschema  # its format checkers cost a second or more to import: only when checking

    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.RefResolutionError):
        return None
    if error is None:
        return None
    return f"{'/'.join(map(str, error.path)) or '(top)'}: {error.message}"


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local ``$ref`` (``#``, ``#/$defs/X``), a chain of them at most MAX_DEPTH long."""
    for _ in range(MAX_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        if ref != "#" and not ref.startswith("#/"):
            raise SpecError(f"only local $ref are followed, not {ref[:80]!r}")
        target: Any = root
        for part in ref[2:].split("/") if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise SpecError(f"$ref {ref[:80]!r} points nowhere")
            target = target[part]
        if not isinstance(target, Mapping):
            raise SpecError(f"$ref {ref[:80]!r} is not a schema")
        node = target
    raise SpecError(f"$ref chain longer than {MAX_DEPTH}")


def _example(node: Any, root: Mapping[str, Any], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SpecError(f"schema nested deeper than {MAX_DEPTH} levels")
    if not isinstance(node, Mapping):
        return "example"  # `true` or a broken sub-schema: any value will do
    node = _resolve(node, root)
    for key in ("const", "default"):
        if key in node:
            return node[key]
    if isinstance(node.get("examples"), list) and node["examples"]:
        return node["examples"][0]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = [
            b
            for b in node.get(key) or []
            if not (isinstance(b, Mapping) and b.get("type") == "null")
        ]
        if branches:
            return _example(branches[0], root, depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in node else "string"
    if kind == "object":
        properties = node.get("properties") or {}
        return {
            name: _example(properties.get(name, {}), root, depth + 1)
            for name in node.get("required") or []
            if isinstance(name, str)
        }
    if kind == "array":
        count = max(int(node.get("minItems", 1)), 1)
        count = min(count, int(node.get("maxItems", count)))
        return [_example(node.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(node, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(node)


def _number(node: Mapping[str, Any], integer: bool) -> int | float:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    value: float = 1
    if isinstance(low, int | float) and not isinstance(low, bool):
        value = max(value, low + (1 if "exclusiveMinimum" in node and "minimum" not in node else 0))
    if isinstance(high, int | float) and not isinstance(high, bool) and value > high:
        value = high - (1 if "exclusiveMaximum" in node and "maximum" not in node else 0)
    return int(value) if integer else float(value)


def _string(node: Mapping[str, Any]) -> str:
    text = _STRING_FORMATS.get(str(node.get("format")), "example")
    minimum, maximum = node.get("minLength"), node.get("maxLength")
    if isinstance(minimum, int) and len(text) < minimum:
        text = text.ljust(minimum, "x")
    if isinstance(maximum, int) and len(text) > maximum:
        text = text[: max(maximum, 0)]
    return text


def build_probes(
    names: Sequence[str],
    specs: Iterable[Mapping[str, Any]] = (),
    examples: Mapping[str, Mapping[str, Any]] | None = None,
    probes: Iterable[Probe] = (),
    scenarios: Sequence[Sequence[ProbeCall]] = (),
) -> tuple[dict[str, Probe], list[str]]:
    """One probe per tool in ``names``, and notes on how each was made.

    Precedence: a :class:`Probe` in ``probes`` (may know its answers), then explicit example
    arguments in ``examples`` (``{"search": {"query": "revenue"}}``), then the tool's first call
    in ``scenarios`` (with the calls before it: :mod:`rftkit.endpoints.scenarios`), then
    arguments generated from the tool's schema in ``specs``, then ``{}`` for a tool without a
    spec (said in a note). Specs for tools not in ``names`` are ignored: a service may serve more
    tools than a job uses.
    """
    given = {probe.name: probe for probe in probes}
    replayed = probes_from_scenarios(names, scenarios)
    examples = dict(examples or {})
    schemas: dict[str, dict[str, Any]] = {}
    for index, spec in enumerate(specs):
        try:
            name, schema = spec_name_and_schema(spec)
        except SpecError as exc:
            raise SpecError(f"tool spec #{index} {exc}") from None
        schemas[name] = schema
    built: dict[str, Probe] = {}
    notes: list[str] = []
    for name in names:
        if name in given:
            built[name] = given[name]
        elif name in examples:
            arguments = examples[name]
            if not isinstance(arguments, Mapping):
                raise SpecError(f"example arguments for {name!r} are not a JSON object")
            built[name] = Probe.fixed(name, arguments)
            if name in schemas and (problem := schema_mismatch(schemas[name], arguments)):
                notes.append(f"{name}: the example arguments do not match its schema ({problem})")
        elif name in replayed:
            built[name] = replayed[name]
        elif name in schemas:
            try:
                arguments = example_arguments(schemas[name])
            except SpecError as exc:
                raise SpecError(f"tool {name!r}: {exc}") from None
            built[name] = Probe.fixed(name, arguments, generated=True)
            if problem := schema_mismatch(schemas[name], arguments):
                notes.append(
                    f"{name}: the generated example does not match its schema "
                    f"({problem}); give one with --probe {name}='{{...}}'"
                )
        else:
            built[name] = Probe.fixed(name, {}, generated=True)
            notes.append(f"{name}: no tool spec and no example call, probed with {{}}")
    return built, notes


def describe(probe: Probe, n: int = 0) -> str:
    """``search({"query": "example"})`` for tables: the arguments of call ``n``."""
    return f"{probe.name}({json.dumps(probe.arguments(n), ensure_ascii=False)[:80]})"
