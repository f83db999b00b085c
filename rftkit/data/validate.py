"""Check an RFT JSONL file against the rules OpenAI and Azure enforce or recommend.

The rules (``docs/hosted-api.md`` §3, §5.1):

- ``messages`` is required; roles are developer, user, assistant, tool (``system`` is not
  accepted); content is text (or images) only.
- ``tools`` is optional, in chat-completions function format with a valid JSON schema; for Agent
  RFT every tool name must be one the job's tool service serves.
- Every other key is kept for the grader: each ``{{item.…}}`` the grader reads must resolve on
  every line, and so must each ``item["key"]`` a python grader's source reads (found in its
  syntax tree by ``rftkit.data.grader_keys``; an ``item.get("key")`` that is missing is a
  warning, and a key the source computes, ``item[name]``, is a warning on the grader).
- A training file holds at most 50,000 lines, a validation file at most 1,000 (OpenAI's RFT guide).

Rules one platform states and the other does not are errors only under a :class:`Profile` that
names that platform (a task's ``platform``), and warnings otherwise:

- at least 10 lines per file: Microsoft's Agent RFT sample (docs/hosted-api.md §3.2; Azure); OpenAI
  documents a minimum of 10 for supervised fine-tuning only, and its RFT guide's examples have 3;
- the last message is from the user, not the developer: Azure's how-to (docs/hosted-api.md §3.1);
  OpenAI states none. (A line ending with an assistant or tool turn is an error everywhere: it
  holds the answer and leaves the model nothing to answer; that is the kit's choice.)
- no image parts for o4-mini: the model Azure's RFT runs (issue 16); an error when the profile
  names a platform and the model is o4-mini, a warning when the model is not known.

Each problem is a Finding at its line and field; nothing is dropped or rewritten. Schemas are
checked with ``jsonschema`` (the metaschema of the schema's own draft) rather than by hand.
No input crashes the check: files are read by ``rftkit.data.jsonl`` (bounded, see there), records
given in memory are held to the same limits, and a grader template left open (``{{item.x``, which
would otherwise reach the grader as literal text) is an error on the grader.

Example::

    report = validate_file("train.jsonl", grader="grader.json", tool_names=toolbox.names)
    report.to_frame()          # one row per finding
    report.raise_for_errors()  # or stop here, listing them all
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from rftkit._util.jsonsafe import loads, nesting_depth
from rftkit.data.curate import find_leakage, question_of
from rftkit.data.findings import Finding, Severity, ValidationReport
from rftkit.data.grader_keys import python_item_reads
from rftkit.data.jsonl import (
    MAX_LINE_DEPTH,
    Line,
    parse_line,
    read_file_bounded,
    read_lines,
)
from rftkit.graders.templating import TemplateError, parse_path, resolve, variables

ROLES = ("developer", "user", "assistant", "tool")
CONTENT_PART_TYPES = ("text", "input_text", "image_url", "input_image")
IMAGE_PART_TYPES = ("image_url", "input_image")
RESERVED_KEYS = ("messages", "tools")
LINE_LIMITS = {"train": 50_000, "validation": 1_000}
MIN_LINES = 10
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SCHEMA_DEPTH = 40
"""Nesting (in JSON levels) up to which tool schemas are checked; jsonschema recurses several
frames per level and runs out of stack near 200. No function's parameters need this many."""
# The service adds these to the item the grader sees (docs/hosted-api.md §3.3): templates read them.
ITEM_DEFAULTS = {"tools": None, "parallel_tool_calls": True}

Grader = Mapping[str, Any] | str | os.PathLike[str]
Platform = Literal["openai", "azure"]


@dataclass(frozen=True)
class Profile:
    """Whose rules are errors: ``platform`` (a task's) and ``model`` (the base model), if known."""

    platform: Platform | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.platform not in (None, *get_args(Platform)):
            raise ValueError(f"platform must be one of {get_args(Platform)}, not {self.platform!r}")

    def severity(self, platform: Platform) -> Severity:
        """A rule ``platform`` states: an error under that platform's profile, else a warning."""
        return Severity.ERROR if self.platform == platform else Severity.WARNING

    def image_severity(self) -> Severity | None:
        """o4-mini takes no image parts; None when the model is known to take them."""
        if self.model is None:
            return Severity.WARNING
        if not self.model.startswith("o4-mini"):
            return None
        return Severity.ERROR if self.platform is not None else Severity.WARNING


def validate_file(
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    grader: Grader | None = None,
    tool_names: Iterable[str] | None = None,
    other_split: str | os.PathLike[str] | None = None,
    profile: Profile = Profile(),
) -> ValidationReport:
    """Every finding for the JSONL file at ``path``.

    ``split`` picks the line limit (``train`` or ``validation``); ``grader`` (a config dict or a
    JSON file) adds the template check; ``tool_names`` (the tool service's) adds the tool-name
    check; ``other_split`` (the other split's file) adds the train/validation leakage check;
    ``profile`` makes one platform's own rules errors (see the module docstring).
    """
    lines, findings = read_lines(path)
    other = None
    if other_split is not None:
        other_lines, _ = read_lines(other_split)
        other = (str(other_split), other_lines)
    findings += _check_lines(str(path), lines, split, grader, tool_names, other, profile)
    return ValidationReport(str(path), len(lines), _in_file_order(str(path), findings))


def validate_records(
    records: Iterable[Mapping[str, Any]],
    *,
    name: str = "<records>",
    split: str = "train",
    grader: Grader | None = None,
    tool_names: Iterable[str] | None = None,
    profile: Profile = Profile(),
) -> ValidationReport:
    """The same checks on lines already in memory; line ``n`` is the ``n``-th record.

    Each record is checked as the JSON line ``write_jsonl`` would write, parsed like a file's
    line; one that cannot be written as JSON at all is an error at its line.
    """
    lines: list[Line] = []
    findings: list[Finding] = []
    for number, record in enumerate(records, start=1):
        try:
            text = json.dumps(record, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            reason = "it nests too deep" if isinstance(exc, RecursionError) else str(exc)
            findings.append(
                Finding(name, number, "<line>", Severity.ERROR, "not_json",
                        f"the record cannot be written as JSON: {reason}",
                        "give plain JSON values: dicts, lists, strings, numbers, bools, None")
            )  # fmt: skip
            lines.append(Line(number, None))
            continue
        parsed, problems = parse_line(text, name, number)
        findings += problems
        lines.append(Line(number, parsed))
    findings += _check_lines(name, lines, split, grader, tool_names, None, profile)
    return ValidationReport(name, len(lines), _in_file_order(name, findings))


def grader_item_variables(grader: Grader) -> list[tuple[str, str]]:
    """``(field path in the config, variable)`` for every ``{{item.…}}`` the grader reads.

    Walks every string of the config (``input``, ``reference``, model graders' ``input[].content``,
    a multi grader's sub-graders) except ``source``, which is Python code, not a template.
    """
    found = []
    for field, text in _strings(_load_grader(grader), "grader"):
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
    for where, config in _python_graders(_load_grader(grader), "grader"):
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


def _grader_findings(grader: Grader) -> tuple[list[tuple[str, str]], list[Finding]]:
    """The ``{{item.…}}`` variables the grader reads, and each problem of the grader itself."""
    name = "<grader>" if isinstance(grader, Mapping) else str(grader)

    def problem(code: str, message: str, hint: str, line: int | None = None) -> Finding:
        return Finding(name, line, "grader", Severity.ERROR, code, message, hint)

    try:
        config = _load_grader(grader)
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


def _load_grader(grader: Grader) -> Mapping[str, Any]:
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


def _in_file_order(name: str, findings: list[Finding]) -> list[Finding]:
    """The grader's findings first, then this file's: file-wide, then by line (stable, so each
    line keeps its checks' order)."""
    return sorted(findings, key=lambda f: (f.file == name, -1 if f.line is None else f.line))


def _check_lines(
    name: str,
    lines: list[Line],
    split: str,
    grader: Grader | None,
    tool_names: Iterable[str] | None,
    other: tuple[str, list[Line]] | None,
    profile: Profile,
) -> list[Finding]:
    if split not in LINE_LIMITS:
        raise ValueError(f"split must be one of {', '.join(LINE_LIMITS)}, not {split!r}")
    findings: list[Finding] = []
    grader_vars: list[tuple[str, str]] = []
    python_reads: list[PythonRead] = []
    if grader is not None:
        grader_vars, grader_problems = _grader_findings(grader)
        findings += grader_problems
        if not any(f.code == "grader_unreadable" for f in grader_problems):
            python_reads, source_problems = python_grader_reads(grader)
            findings += source_problems
    served = sorted(set(tool_names)) if tool_names is not None else None
    for line in lines:
        if line.record is not None:
            checker = _LineChecker(name, line.number, profile)
            findings += checker.check(line.record, grader_vars, served, python_reads)
    findings += _check_size(name, len(lines), split, profile)
    findings += _check_duplicates(name, lines)
    if other is not None:
        findings += _check_leakage(name, lines, *other)
    return findings


def _check_size(name: str, count: int, split: str, profile: Profile) -> list[Finding]:
    limit = LINE_LIMITS[split]
    if count > limit:
        return [
            Finding(
                name,
                None,
                "<file>",
                Severity.ERROR,
                "too_many_lines",
                f"{count} lines; a {split} file may hold at most {limit:,}",
                "sample the file down, or use it as the other split",
            )
        ]
    if count < MIN_LINES:
        return [
            Finding(
                name,
                None,
                "<file>",
                profile.severity("azure"),
                "too_few_lines",
                f"{count} lines; Azure needs at least {MIN_LINES} per file (Microsoft's Agent RFT "
                "sample); OpenAI states no minimum for RFT",
                "add tasks; several dozen to a few hundred good ones is the usual start",
            )
        ]
    return []


def _check_duplicates(name: str, lines: list[Line]) -> list[Finding]:
    """Exact duplicate lines, and lines asking the same question as an earlier one."""
    findings = []
    first_line: dict[str, int] = {}
    first_question: dict[str, int] = {}
    for line in lines:
        if line.record is None:
            continue
        key = json.dumps(line.record, sort_keys=True)
        question = question_of(line.record)
        if key in first_line:
            findings.append(
                Finding(
                    name,
                    line.number,
                    "<line>",
                    Severity.WARNING,
                    "duplicate_line",
                    f"identical to line {first_line[key]}",
                    "remove one copy; duplicates weigh a task twice",
                )
            )
        elif question and question in first_question:
            findings.append(
                Finding(
                    name,
                    line.number,
                    "messages",
                    Severity.WARNING,
                    "duplicate_question",
                    f"asks the same question as line {first_question[question]}",
                    "keep one line per question, or make the questions differ",
                )
            )
        first_line.setdefault(key, line.number)
        if question:
            first_question.setdefault(question, line.number)
    return findings


def _check_leakage(
    name: str, lines: list[Line], other_name: str, other_lines: list[Line]
) -> list[Finding]:
    here = [line for line in lines if line.record is not None]
    there = [line for line in other_lines if line.record is not None]
    leaks = find_leakage([ln.record for ln in there], [ln.record for ln in here])
    leaks = leaks.drop_duplicates("valid_index")  # one finding per line: its strongest match
    return [
        Finding(
            name,
            here[row.valid_index].number,
            "messages",
            Severity.ERROR,
            "leakage",
            f"{row.reason} line {there[row.train_index].number} of {other_name}"
            f" (similarity {row.score:.0f})",
            "move or drop one of the two lines so the splits share no task",
        )
        for row in leaks.itertuples()
    ]


@cache
def _schema_problem(schema_json: str) -> tuple[str, str] | None:
    """Where and what is wrong with a JSON schema (cached: every line repeats the same specs)."""
    import jsonschema  # imported here: it takes 1-2 s to load and only tool schemas need it

    schema = json.loads(schema_json)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        return where, exc.message
    return None


class _LineChecker:
    """The checks for one parsed line; each problem becomes a Finding at this line."""

    def __init__(self, file: str, number: int, profile: Profile) -> None:
        self.file = file
        self.number = number
        self.profile = profile
        self.findings: list[Finding] = []

    def finding(self, severity: Severity, field: str, code: str, message: str, hint: str) -> None:
        self.findings.append(Finding(self.file, self.number, field, severity, code, message, hint))

    def error(self, field: str, code: str, message: str, hint: str) -> None:
        self.finding(Severity.ERROR, field, code, message, hint)

    def warning(self, field: str, code: str, message: str, hint: str) -> None:
        self.finding(Severity.WARNING, field, code, message, hint)

    def check(
        self,
        record: dict[str, Any],
        grader_vars: list[tuple[str, str]],
        served: list[str] | None,
        python_reads: Sequence[PythonRead] = (),
    ) -> list[Finding]:
        self.messages(record)
        self.tools(record, served)
        self.references(record, grader_vars)
        self.python_keys(record, python_reads)
        return self.findings

    def python_keys(self, record: dict[str, Any], reads: Sequence[PythonRead]) -> None:
        """Each key a python grader reads must be on the line (``.get`` ones: a warning)."""
        item = {**ITEM_DEFAULTS, **record}
        for where, path, required in reads:
            value: Any = item
            for depth, key in enumerate(path):
                if not isinstance(value, Mapping) or key not in value:
                    shown = "item" + "".join(f"[{k!r}]" for k in path[: depth + 1])
                    field = ".".join(path[: depth + 1])
                    if required:
                        self.error(
                            field,
                            "grader_key_missing",
                            f"{where} reads {shown}, which this line does not have: "
                            "grading it raises KeyError and scores 0",
                            "add the field to every line, or change the grader",
                        )
                    else:
                        self.warning(
                            field,
                            "grader_key_missing_optional",
                            f"{where} reads {shown} with a default, and this line does not have it",
                            "add the field if the default is not meant",
                        )
                    break
                value = value[key]

    def messages(self, record: dict[str, Any]) -> None:
        if "messages" not in record:
            self.error(
                "messages",
                "missing_messages",
                "the line has no 'messages'",
                'add "messages": [{"role": "user", "content": "..."}]',
            )
            return
        messages = record["messages"]
        if not isinstance(messages, list) or not messages:
            self.error(
                "messages",
                "bad_messages",
                "'messages' must be a non-empty list",
                "give at least one user message",
            )
            return
        for index, message in enumerate(messages):
            self.message(f"messages[{index}]", message)
        last = messages[-1]
        role = last.get("role") if isinstance(last, dict) else None
        field = f"messages[{len(messages) - 1}].role"
        if role in ("assistant", "tool"):
            self.error(
                field,
                "last_message_role",
                f"the last message is from {role!r}; the model answers the last user "
                "(or developer) message",
                "end the line with the question; keep reference answers in other keys",
            )
        elif role == "developer":
            self.finding(
                self.profile.severity("azure"),
                field,
                "last_message_developer",
                "the last message is from 'developer'; Azure requires the user's (its RFT "
                "how-to), OpenAI states no rule",
                "end the line with the user's question",
            )

    def message(self, field: str, message: Any) -> None:
        if not isinstance(message, dict):
            self.error(
                field,
                "bad_message",
                "a message must be an object with role and content",
                '{"role": "user", "content": "..."}',
            )
            return
        role = message.get("role")
        if role == "system":
            self.error(
                f"{field}.role",
                "system_role",
                "role 'system' is not accepted in RFT data",
                "use role 'developer' for instructions",
            )
        elif role not in ROLES:
            self.error(
                f"{field}.role",
                "unknown_role",
                f"role {role!r} is not one of {', '.join(ROLES)}",
                "use developer, user, assistant or tool",
            )
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            self.error(
                f"{field}.tool_call_id",
                "missing_tool_call_id",
                "a tool message needs the tool_call_id it answers",
                "copy the id from the assistant message's tool_calls",
            )
        content = message.get("content")
        if content is None and role == "assistant" and message.get("tool_calls"):
            return
        self.content(f"{field}.content", content)

    def content(self, field: str, content: Any) -> None:
        if isinstance(content, str):
            return
        if not isinstance(content, list):
            self.error(
                field,
                "bad_content",
                f"content is {type(content).__name__}, not text",
                "give content as a string (or a list of text parts)",
            )
            return
        for index, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in CONTENT_PART_TYPES:
                self.error(
                    f"{field}[{index}]",
                    "non_text_content",
                    f"content part of type {kind!r}; only text and images are accepted",
                    "replace audio/file parts with text",
                )
            severity = self.profile.image_severity()
            if kind in IMAGE_PART_TYPES and severity is not None:
                self.finding(
                    severity,
                    f"{field}[{index}]",
                    "image_content",
                    "an image part; o4-mini RFT takes text only",
                    "describe the image in text, or train a model that takes images",
                )

    def tools(self, record: dict[str, Any], served: list[str] | None) -> None:
        if "tools" not in record:
            if served is not None:
                self.warning(
                    "tools",
                    "no_tools",
                    "the line declares no tools, so the model cannot call the service's",
                    "add the service's tool specs",
                )
            return
        tools = record["tools"]
        if not isinstance(tools, list):
            self.error(
                "tools",
                "bad_tools",
                "'tools' must be a list of function tools",
                '[{"type": "function", "function": {...}}]',
            )
            return
        seen: set[str] = set()
        for index, tool in enumerate(tools):
            name = self.tool(f"tools[{index}]", tool)
            if name is None:
                continue
            if name in seen:
                self.error(
                    f"tools[{index}].function.name",
                    "duplicate_tool",
                    f"tool {name!r} is declared twice",
                    "declare each tool once",
                )
            seen.add(name)
            if served is not None and name not in served:
                self.error(
                    f"tools[{index}].function.name",
                    "unknown_tool",
                    f"tool {name!r} is not served by the tool service (it serves: "
                    f"{', '.join(served)})",
                    "rename it to the service's tool, or add the tool to the service",
                )

    def tool(self, field: str, tool: Any) -> str | None:
        """Check one tool spec; its name when it has a usable one."""
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            flat = isinstance(tool, dict) and "name" in tool
            self.error(
                field,
                "tool_format",
                "not a chat-completions function tool"
                + (" (this is the Responses-API flat format)" if flat else ""),
                '{"type": "function", "function": {"name", "description", "parameters"}}',
            )
            return None
        name = function.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            self.error(
                f"{field}.function.name",
                "tool_name_invalid",
                f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'",
                "rename the tool",
            )
            name = None
        if "parameters" in function:
            self.schema(f"{field}.function.parameters", function["parameters"])
        return name

    def schema(self, field: str, schema: Any) -> None:
        if not isinstance(schema, dict) or schema.get("type") != "object":
            self.error(
                field,
                "tool_schema",
                "parameters must be a JSON schema of type 'object'",
                '{"type": "object", "properties": {...}, "required": [...]}',
            )
            return
        schema_json = json.dumps(schema, sort_keys=True)
        if nesting_depth(schema_json) > MAX_SCHEMA_DEPTH:
            self.error(
                field,
                "tool_schema_too_deep",
                f"the schema nests more than {MAX_SCHEMA_DEPTH} levels deep",
                "flatten it; a function's parameters need a few levels at most",
            )
            return
        problem = _schema_problem(schema_json)
        if problem is not None:
            where, message = problem
            self.error(
                f"{field}{where}",
                "tool_schema",
                f"invalid JSON schema: {message}",
                "fix the schema; jsonschema's check_schema must accept it",
            )

    def references(self, record: dict[str, Any], grader_vars: list[tuple[str, str]]) -> None:
        if not set(record) - set(RESERVED_KEYS):
            self.warning(
                "<line>",
                "no_reference_fields",
                "the line carries nothing but "
                "messages and tools, so a grader has no reference to compare with",
                'add e.g. "reference_answer": "..."',
            )
        item = {**ITEM_DEFAULTS, **record}
        reported: set[str] = set()
        for where, variable in grader_vars:
            if variable in reported:
                continue
            try:
                resolve(variable, {"item": item})
            except TemplateError as exc:
                reported.add(variable)
                self.error(
                    variable,
                    "template_variable_missing",
                    f"{where} reads {{{{{variable}}}}}, but {exc.reason}",
                    "add the field to every line, or change the grader template",
                )
