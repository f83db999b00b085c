"""Template paths as OpenAI's grader guide writes them (docs/hosted-api.md §5.1)."""

import pytest

from rftkit.graders.templating import (
    TemplateError,
    item_fields,
    parse_path,
    render,
    resolve,
    variables,
)

CONTEXT = {
    "item": {"reference_answer": "1234.5", "ground_truth": {"date": "2025-03-31"}, "n": 3},
    "sample": {
        "output_text": "The answer is 1234.5",
        "output_json": {"a": {"b": "deep"}},
        "output_tools": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "x.md"}'},
            },
        ],
    },
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{item.reference_answer}}", "1234.5"),
        ("{{ item.reference_answer }}", "1234.5"),
        ("{{sample.output_text}}", "The answer is 1234.5"),
        ("{{sample.output_json.a.b}}", "deep"),
        ("{{sample.output_tools[0].function.name}}", "read_file"),
        ("{{item.ground_truth.date}}", "2025-03-31"),
        ("n={{item.n}}", "n=3"),
        ("{{sample.output_json.a}}", '{"b": "deep"}'),
        ("no placeholders", "no placeholders"),
    ],
)
def test_documented_templates_render(template, expected):
    assert render(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("variable", "reason"),
    [
        ("item.missing", "item has no field 'missing'"),
        ("sample.output_tools[3].function.name", "sample.output_tools[3] does not exist (1)"),
        ("sample.output_text[0]", "does not exist (not a list)"),
        ("sample.output_json.a.b.c", "sample.output_json.a.b has no field 'c'"),
    ],
)
def test_missing_paths_say_where_the_walk_stopped(variable, reason):
    with pytest.raises(TemplateError) as info:
        resolve(variable, CONTEXT)
    assert reason in str(info.value) and info.value.variable == variable


@pytest.mark.parametrize("variable", ["model.name", "items.x", ".item.x", "item..x", "item.x]"])
def test_only_item_and_sample_paths_parse(variable):
    with pytest.raises(TemplateError):
        parse_path(variable)


def test_variables_and_item_fields():
    text = "Ref {{ item.reference_answer }} vs {{sample.output_text}} ({{item.ground_truth.date}})"
    assert list(variables(text)) == [
        "item.reference_answer",
        "sample.output_text",
        "item.ground_truth.date",
    ]
    assert item_fields(text) == {"reference_answer", "ground_truth"}
