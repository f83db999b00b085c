"""A tool is a plain typed Python function with a docstring; everything else is derived from it.

From one function come the JSON schema the model sees (the dataset's ``tools`` array and the
Responses-API function spec), the argument validation the endpoint applies, and the job's
``tools`` config. Nothing is written twice (the pattern of TRL's tool API).

Example::

    toolbox = Toolbox()

    @toolbox.tool
    def add(ctx: ToolContext, a: int, b: int = 1) -> str:
        '''Add two integers.

        Args:
            a: The first term.
            b: The second term.
        '''
        return str(a + b)

    toolbox["add"].spec()["function"]["parameters"]["required"]   # ['a']
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from rftkit.errors import RFTKitError
from rftkit.protocol import JobTool

if TYPE_CHECKING:
    from rftkit.toolserver.corpus import Corpus

_ARG_LINE = re.compile(r"^\s{4,}(\w+):\s*(.+)$")


class ToolInputError(ValueError, RFTKitError):
    """A call the model can fix: the endpoint answers 4xx with this message as the body."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_argument"):
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass
class ToolContext:
    """What a tool may use besides its arguments: the documents (if the service has any), the
    service's resources (a database connection, a client: see ``rftkit.toolserver.resources``), this
    rollout's own state and its dataset line."""

    corpus: Corpus | None = None
    trace_id: str = "in-process"
    state: MutableMapping[str, Any] = field(default_factory=dict)
    item: dict[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)


def _split_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (text before ``Args:``) and one description per argument."""
    doc = inspect.cleandoc(doc)
    head, _, args_block = doc.partition("\nArgs:\n")
    descriptions: dict[str, str] = {}
    for line in args_block.splitlines():
        match = _ARG_LINE.match("    " + line)
        if match:
            descriptions[match.group(1)] = match.group(2).strip()
        elif line.strip() == "":
            break
    return " ".join(head.split()), descriptions


@dataclass(frozen=True)
class Tool:
    """One tool: the function, and the schema and validator derived from its signature."""

    name: str
    function: Callable[..., str]
    description: str
    arguments: type[BaseModel]
    takes_context: bool

    @classmethod
    def from_function(cls, function: Callable[..., str]) -> Tool:
        if not function.__doc__:
            raise TypeError(f"tool {function.__name__} needs a docstring: it is the model's manual")
        description, arg_docs = _split_docstring(function.__doc__)
        hints = get_type_hints(function)
        fields: dict[str, Any] = {}
        takes_context = False
        for param in inspect.signature(function).parameters.values():
            if hints.get(param.name) is ToolContext:
                takes_context = True
                continue
            if param.name not in hints:
                raise TypeError(
                    f"tool {function.__name__}: argument {param.name} needs a type hint"
                )
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (
                hints[param.name],
                Field(default, description=arg_docs.get(param.name)),
            )
        model = create_model(  # type: ignore[call-overload]
            f"{function.__name__}_arguments",
            __config__=ConfigDict(extra="forbid", strict=True),
            **fields,
        )
        return cls(function.__name__, function, description, model, takes_context)

    def parameters(self) -> dict[str, Any]:
        """The arguments' JSON schema, without pydantic's titles (the model needs none)."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        schema["additionalProperties"] = False
        schema.setdefault("required", [])
        return schema

    def spec(self) -> dict[str, Any]:
        """Chat-completions function tool: what each dataset line's ``tools`` array holds."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters(),
            },
        }

    def responses_spec(self) -> dict[str, Any]:
        """Responses-API function tool (flat), for evaluating a hosted model on the same tools."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters(),
        }

    def job_tool(self, server_url: str, headers: dict[str, str] | None = None) -> JobTool:
        """The job's ``method.reinforcement.tools`` entry pointing at this tool's URL."""
        return JobTool(name=self.name, server_url=server_url, headers=headers or {})

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        """Check the model's arguments; a ToolInputError says which one and what is allowed."""
        try:
            return self.arguments.model_validate(arguments)
        except ValidationError as exc:
            # An unknown argument explains the others, so report it first.
            first = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
            param = ".".join(str(p) for p in first["loc"]) or None
            allowed = ", ".join(self.arguments.model_fields)
            if first["type"] == "extra_forbidden":
                message = f"unknown argument {param!r}; {self.name} takes: {allowed}"
            elif first["type"] == "missing":
                message = f"missing required argument {param!r}; {self.name} takes: {allowed}"
            else:
                message = f"argument {param!r}: {first['msg']}"
            raise ToolInputError(message, param=param) from None

    def __call__(self, ctx: ToolContext, arguments: dict[str, Any]) -> str:
        """Validate, then run the function with the context injected."""
        values = dict(self.validate(arguments))
        return self.function(ctx, **values) if self.takes_context else self.function(**values)


class Toolbox:
    """An ordered set of tools with unique names."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def tool(self, function: Callable[..., str]) -> Callable[..., str]:
        """Decorator: register ``function`` as a tool and return it unchanged."""
        built = Tool.from_function(function)
        if built.name in self._tools:
            raise ValueError(f"a tool named {built.name!r} is already registered")
        self._tools[built.name] = built
        return function

    def extended(self, *functions: Callable[..., str]) -> Toolbox:
        """A new toolbox with these tools and ``functions`` added; this one is left as it is.

        Example: ``create_app(corpus, toolbox=tools.toolbox.extended(percent_change))``.
        """
        box = Toolbox()
        box._tools = dict(self._tools)
        for function in functions:
            box.tool(function)
        return box

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """Every tool in chat-completions format: a dataset line's ``tools`` array."""
        return [t.spec() for t in self]
