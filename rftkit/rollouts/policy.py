"""The one interface every model sits behind during rollouts: OpenAI/Azure, vLLM, the local model.

A policy sees the conversation so far (Responses-API input items) and the tools, and proposes the
next turn: either some text with no tool calls (the final answer) or one or more tool calls (run
concurrently by the engine). ``trace_id`` identifies the rollout, so a policy may keep per-rollout
records (the local trainer stores sampled token ids per trace).

Conversation items are plain dicts, exactly the Responses API's input shapes::

    {"role": "developer" | "user" | "assistant", "content": "..."}
    {"type": "function_call", "call_id": "call_1", "name": "search", "arguments": "{...}"}
    {"type": "function_call_output", "call_id": "call_1", "output": "..."}

``tools`` is the dataset line's ``tools`` array as written (chat-completions function format,
``{"type": "function", "function": {"name", "description", "parameters"}}``); a policy that talks
to the Responses API flattens it itself.

Example — a policy that always answers "42"::

    class FortyTwo:
        name = "forty-two"

        async def next_turn(self, conversation, tools, *, trace_id):
            return PolicyTurn(text="42", model="constant")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from rftkit.protocol import Usage


@dataclass(frozen=True)
class ToolCallRequest:
    """A tool call the policy asks for; ``arguments`` is the JSON object as a string."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class PolicyTurn:
    """One model turn. No ``tool_calls`` means ``text`` is the final answer."""

    text: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""

    @property
    def is_final(self) -> bool:
        return not self.tool_calls


@runtime_checkable
class Policy(Protocol):
    """Anything with a ``name`` and an async ``next_turn`` can drive rollouts."""

    name: str

    async def next_turn(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], *, trace_id: str
    ) -> PolicyTurn: ...
