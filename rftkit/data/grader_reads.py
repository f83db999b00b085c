"""What a grader reads of each dataset line, and the problems of the grader config itself.

Every ``{{item.…}}`` template in the config (``input``, ``reference``, model graders' messages, a
multi grader's sub-graders) and every ``item["key"]`` a python grader's source reads (found in its
syntax tree by :mod:`rftkit.data.grader_keys`) must resolve on every line; the line checks
(:mod:`rftkit.data.line_checks`) hold each line to these reads. A config that cannot be read, a
template left open or one that does not parse, and a source that does not parse are findings on the
grader, never exceptions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from rftkit._util.jsonsafe import loads
from rftkit.data.findings import Finding, Severity
from rftkit.data.grader_keys import python_item_reads
from rftkit.data.jsonl import MAX_LINE_DEPTH, read_file_bounded
from rftkit.graders.templating import TemplateError, parse_path, variables

Grader = Mapping[str, Any] | str | os.PathLike[str]


def grader_item_variables(grader: Grader) -> list[tuple[str, str]]:
    """``(field path in the config, variable)`` for every ``{{item.…}}`` the grader reads.

    Walks every string of the config (``input``, ``reference``, model graders' ``input[].content``,
    a multi grader's sub-graders) except ``source``, which is Python code, not a template.
    """
    found = []
    for field, text in _strings(load_grader(grader), "grader"):
        for variable in variables(text):
            if parse_path(variable)[0] == "item":
                found.append((field, variable))
    return found


PythonRead = tuple[str, tuple[str, ...], bool]
"""``(field of the grader's source, key path in item, required)``: one read of a python grader."""


def python_grader_reads(grader: Grader) -> tuple[list[PythonRead], list[Finding]]:
    """Every item key the python graders in ``grader`` (a multi's too) read, and a finding for
    each source that cannot be parsed or reads a key it computes (which cannot be checked)."""
    name = "<grader>" if isinstance(grader, Mapping) else str(grader)
    reads: list[PythonRead] = []
    findings: list[Finding] = []
    for where, config in _python_graders(load_grader(grader), "grader"):
        try:
            found = python_item_reads(config["source"])
        except (SyntaxError, ValueError, RecursionError) as exc:
            findings.append(
                Finding(
                    name,
                    None,
                    f"{where}.source",
                    Severity.ERROR,
                    "grader_source_invalid",
                    f"the source does not parse: {exc}",
                    "give Python that defines grade(sample, item)",
                )
            )
            continue
        reads += [(f"{where}.source", path, True) for path in sorted(found.required)]
        reads += [(f"{where}.source", path, False) for path in sorted(found.optional)]
        findings += [
            Finding(
                name,
                None,
                f"{where}.source",
                Severity.WARNING,
                "grader_key_undetermined",
                f"{read} reads an item key the code computes, so the lines cannot be checked "
                "for it",
                "read item['key'] with a literal key, or check the lines yourself",
            )
            for read in found.undetermined
        ]
    return reads, findings


def _python_graders(config: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(config, Mapping):
        if config.get("type") == "python" and isinstance(config.get("source"), str):
            yield path, config
        for key, value in config.items():
            if isinstance(value, Mapping | list):
                yield from _python_graders(value, f"{path}.{key}")
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from _python_graders(value, f"{path}[{index}]")


def grader_findings(grader: Grader) -> tuple[list[tuple[str, str]], list[Finding]]:
    """The ``{{item.…}}`` variables the grader reads, and each problem of the grader itself."""
    name = "<grader>" if isinstance(grader, Mapping) else str(grader)

    def problem(code: str, message: str, hint: str, line: int | None = None) -> Finding:
        return Finding(name, line, "grader", Severity.ERROR, code, message, hint)

    try:
        config = load_grader(grader)
        strings = list(_strings(config, "grader"))
    except RecursionError:  # a grader dict built in memory, nested beyond reason
        message = "the grader config nests too deep to read"
        return [], [problem("grader_unreadable", message, "give one grader object")]
    except (OSError, ValueError) as exc:  # not a file, bad UTF-8, invalid or hostile JSON
        message = f"cannot read the grader config: {exc}"
        hint = "give a JSON file holding one grader object"
        return [], [problem("grader_unreadable", message, hint, getattr(exc, "lineno", None))]
    from rftkit.graders.validate import unclosed_template  # the grader check's own rule

    findings = [
        Finding(
            name,
            None,
            field,
            Severity.ERROR,
            "grader_template_unclosed",
            f"{text[start : start + 40]!r} is never closed with '}}}}' on its line, so it "
            "would reach the grader as literal text",
            "close it: {{item.key}}",
        )
        for field, text in strings
        if (start := unclosed_template(text)) is not None
    ]
    try:
        return grader_item_variables(config), findings
    except TemplateError as exc:
        hint = "templates look like {{item.key}} or {{sample.output_text}}"
        return [], [*findings, problem("grader_template_invalid", str(exc), hint)]


def load_grader(grader: Grader) -> Mapping[str, Any]:
    if isinstance(grader, Mapping):
        return grader
    config = loads(read_file_bounded(grader), max_depth=MAX_LINE_DEPTH)
    if not isinstance(config, Mapping):
        raise ValueError(f"the file holds a JSON {type(config).__name__}, not a grader object")
    return config


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key != "source":
                yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value
