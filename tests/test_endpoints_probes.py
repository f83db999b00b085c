"""Probes from a service's own tools: example arguments from schemas, given examples, headers."""

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.endpoints import CALCULATOR_PROBE, Probe
from rftkit.endpoints.examples import (
    SpecError,
    build_probes,
    example_arguments,
    schema_mismatch,
)
from rftkit.secrets import HeaderError, parse_headers, with_token
from tools_service.tools import toolbox


def test_examples_follow_const_default_examples_enum_and_bounds():
    schema = {
        "type": "object",
        "properties": {
            "mode": {"const": "fast"},
            "top_k": {"type": "integer", "default": 5, "minimum": 1},
            "city": {"type": "string", "examples": ["Lyon"]},
            "unit": {"enum": ["celsius", "kelvin"]},
            "page": {"type": "integer", "minimum": 3, "maximum": 9},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
            "code": {"type": "string", "minLength": 12},
            "when": {"type": "string", "format": "date"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "filter": {"$ref": "#/$defs/Filter"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
            "optional": {"type": "string"},
        },
        "required": [
            "mode", "top_k", "city", "unit", "page", "ratio", "code", "when", "tags", "filter",
            "maybe",
        ],
        "$defs": {
            "Filter": {
                "type": "object",
                "properties": {"field": {"type": "string"}},
                "required": ["field"],
            }
        },
    }  # fmt: skip
    arguments = example_arguments(schema)
    assert arguments == {
        "mode": "fast",
        "top_k": 5,
        "city": "Lyon",
        "unit": "celsius",
        "page": 3,
        "ratio": 0.5,
        "code": "examplexxxxx",
        "when": "2025-01-01",
        "tags": ["example", "example"],
        "filter": {"field": "example"},
        "maybe": True,
    }
    assert schema_mismatch(schema, arguments) is None


def test_every_course_tool_gets_an_example_its_schema_accepts():
    for spec in toolbox.specs():
        schema = spec["function"]["parameters"]
        arguments = example_arguments(schema)
        jsonschema.validate(arguments, schema)
        assert set(arguments) == set(schema.get("required", []))


_leaf = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer", "minimum": -5, "maximum": 50},
        {"type": "number", "minimum": 2.5},
        {"type": "boolean"},
        {"type": "null"},
        {"enum": ["a", "b"]},
        {"type": ["string", "null"], "maxLength": 3},
        {"type": "string", "format": "email"},
    ]
)
_schemas = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.dictionaries(st.text("abcxyz", min_size=1, max_size=4), children, max_size=4).map(
            lambda props: {"type": "object", "properties": props, "required": sorted(props)}
        ),
        children.map(lambda item: {"type": "array", "items": item, "minItems": 1}),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(_schemas.map(lambda s: {"type": "object", "properties": {"x": s}, "required": ["x"]}))
def test_generated_examples_validate_against_their_schema(schema):
    arguments = example_arguments(schema)
    assert schema_mismatch(schema, arguments) is None, (schema, arguments)


def test_hostile_schemas_end_in_a_clear_error():
    deep: dict = {"type": "object", "properties": {}, "required": ["a"]}
    node = deep
    for _ in range(40):
        child = {"type": "object", "properties": {}, "required": ["a"]}
        node["properties"]["a"] = child
        node = child
    with pytest.raises(SpecError, match="nested deeper than"):
        example_arguments(deep)
    loop = {"$ref": "#", "type": "object"}
    with pytest.raises(SpecError, match="nested deeper than"):
        example_arguments({"type": "object", "properties": {"a": loop}, "required": ["a"]})
    with pytest.raises(SpecError, match="chain longer than"):
        example_arguments({"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/A"}}})
    with pytest.raises(SpecError, match="only local"):
        example_arguments({"$ref": "https://example.com/schema.json"})
    with pytest.raises(SpecError, match="not an object"):
        example_arguments({"type": "string"})


def test_given_probes_beat_examples_which_beat_generated_arguments():
    specs = toolbox.specs()
    probes, notes = build_probes(
        ["search", "read_file", "calculator", "no_spec"],
        specs,
        examples={"read_file": {"path": "reports/a.md"}, "calculator": {"expression": 1}},
        probes=[CALCULATOR_PROBE],
    )
    assert probes["calculator"] is CALCULATOR_PROBE
    assert probes["read_file"].arguments(0) == {"path": "reports/a.md"}
    assert not probes["read_file"].generated
    assert probes["search"].generated and probes["search"].arguments(7) == {"query": "example"}
    assert probes["no_spec"].arguments(0) == {}
    assert notes == ["no_spec: no tool spec and no example call, probed with {}"]
    _, mismatched = build_probes(["read_file"], specs, examples={"read_file": {"path": 3}})
    assert mismatched and "do not match its schema" in mismatched[0]
    with pytest.raises(SpecError, match="tool spec #1 has no function name"):
        build_probes(["x"], [specs[0], {"type": "function"}])


def test_a_fixed_probe_makes_trainer_shaped_calls():
    probe = Probe.fixed("search", {"query": "revenue"})
    body = probe.call(3, "trace_x", call_id="call_3")
    assert body["arguments"] == '{"query": "revenue"}' and body["call_id"] == "call_3"
    assert probe.expected is None


def test_headers_read_environment_references_and_name_what_is_missing():
    environ = {"TOKEN": "abc123", "TEAM": "search"}
    headers = parse_headers(
        ["Authorization: Bearer ${TOKEN}", "X-Team: ${TEAM}-a", "X-Price: $$5"], environ
    )
    assert headers == {"Authorization": "Bearer abc123", "X-Team": "search-a", "X-Price": "$5"}
    with pytest.raises(HeaderError, match="--header Authorization: environment variable NOPE"):
        parse_headers(["Authorization: Bearer ${NOPE}"], environ)
    with pytest.raises(HeaderError, match="--header #1: expected 'Name: value'") as error:
        parse_headers(["Bearer literal-secret-value"], environ)
    assert "literal-secret-value" not in str(error.value)
    assert with_token({}, "TOKEN", environ) == {"Authorization": "Bearer abc123"}
    assert with_token({"authorization": "Basic x"}, "TOKEN", environ) == {
        "authorization": "Basic x"
    }
    assert with_token({}, "UNSET", environ) == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tools-from", "/nonexistent/specs.json"], "cannot read"),
        (["--tools-from", "{bad}"], "--tools-from {bad}: cannot read"),
        (["--tools-from", 'SPECS:[{"type": "function", "function": []}]'], "has no function"),
        (["--tools-from", 'SPECS:{"tools": 3}'], "expected a list of tool specs"),
        (["--tools-from", 'SPECS:{"a": 1}\n{oops'], "line 2"),
        (["--probe", "search"], "expected NAME='{json arguments}'"),
        (["--probe", "search={not json"], "--probe search: arguments are not JSON"),
        (["--probe", "search=[1]"], "--probe search: arguments must be a JSON object"),
        (["--header", "no colon here"], "--header #1: expected 'Name: value'"),
    ],
)
def test_cli_bad_options_exit_2_naming_what_is_wrong(options, message, tmp_path, capsys):
    from rftkit.cli import main

    if options[1].startswith("SPECS:"):
        path = tmp_path / "specs.json"
        path.write_text(options[1].removeprefix("SPECS:"))
        options = [options[0], str(path)]
    status = main(["endpoints", "check", "http://127.0.0.1:9", "--rollouts", "0", *options])
    assert status == 2
    assert message in capsys.readouterr().err
