"""The checks of one dataset line: its messages, its tool specs, and the fields the grader reads.

Each problem becomes a :class:`~rftkit.data.findings.Finding` at the line and field, with a hint;
nothing is dropped or rewritten. Tool schemas are checked with ``jsonschema`` (the metaschema of the
schema's own draft) rather than by hand, up to :data:`MAX_SCHEMA_DEPTH` levels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from rftkit._util.jsonsafe import nesting_depth
from rftkit.data.findings import Finding, Severity
from rftkit.data.grader_reads import PythonRead
from rftkit.data.profile import Profile
from rftkit.graders.templating import TemplateError, resolve

ROLES = ("developer", "user", "assistant", "tool")
CONTENT_PART_TYPES = ("text", "input_text", "image_url", "input_image")
IMAGE_PART_TYPES = ("image_url", "input_image")
RESERVED_KEYS = ("messages", "tools")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SCHEMA_DEPTH = 40
"""Nesting (in JSON levels) up to which tool schemas are checked; jsonschema recurses several
frames per level and runs out of stack near 200. No function's parameters need this many."""
# The service adds these to the item the grader sees (docs/hosted-api.md §3.3): templates read them.
ITEM_DEFAULTS = {"tools": None, "parallel_tool_calls": True}


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


class LineChecker:
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
