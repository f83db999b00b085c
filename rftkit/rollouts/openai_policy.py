"""Any OpenAI-compatible model as a rollout policy, through the Responses API's function calling.

One class for OpenAI and Azure (pass ``openai.AsyncOpenAI`` or ``openai.AsyncAzureOpenAI``) and for
servers that speak the Responses API at a base URL (vLLM, Ollama:
``AsyncOpenAI(base_url="http://localhost:8000/v1", api_key="unused")``). Each turn sends the whole
conversation (stateless: no ``previous_response_id``, ``store=False``), the dataset line's tools
flattened to Responses function tools, ``parallel_tool_calls`` and, when given, the reasoning
effort. Usage, including ``reasoning_tokens`` where the API reports them, lands in the trace.

Example::

    policy = OpenAICompatiblePolicy(AsyncOpenAI(), "gpt-5-mini", reasoning_effort="low")
    traces = await run_rollouts(items, policy, tools=job_tools, grader=grader)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import openai
from openai.types.responses import Response

from rftkit.protocol import FunctionTool, Usage

from .policy import PolicyTurn, ToolCallRequest

AZURE_API_VERSION = "2025-04-01-preview"


def responses_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat-completions function specs (a dataset line's ``tools``) as Responses function tools."""
    flat = []
    for spec in tools:
        function = FunctionTool.parse(spec)
        flat.append(
            {
                "type": "function",
                "name": function.name,
                "description": function.description or "",
                "parameters": function.parameters,
                "strict": bool(function.strict),
            }
        )
    return flat


class OpenAICompatiblePolicy:
    """A model behind an ``openai`` async client, proposing turns with the Responses API."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        reasoning_effort: str | None = None,
        parallel_tool_calls: bool = True,
        max_output_tokens: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.reasoning_effort = reasoning_effort
        self.parallel_tool_calls = parallel_tool_calls
        self.max_output_tokens = max_output_tokens
        self.extra_body = dict(extra_body or {})
        self.name = name or model

    def __repr__(self) -> str:  # the client holds the API key: never show it
        return f"OpenAICompatiblePolicy(model={self.model!r}, name={self.name!r})"

    def request(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The ``responses.create`` arguments for one turn (tested against the SDK's types)."""
        body: dict[str, Any] = {"model": self.model, "input": conversation, "store": False}
        if tools:
            body["tools"] = responses_tools(tools)
            body["parallel_tool_calls"] = self.parallel_tool_calls
        if self.reasoning_effort is not None:
            body["reasoning"] = {"effort": self.reasoning_effort}
        if self.max_output_tokens is not None:
            body["max_output_tokens"] = self.max_output_tokens
        return body

    async def next_turn(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], *, trace_id: str
    ) -> PolicyTurn:
        response = await self.client.responses.create(
            **self.request(conversation, tools), extra_body=self.extra_body or None
        )
        return turn_from_response(response)


def turn_from_response(response: Response) -> PolicyTurn:
    """Text, function calls and token usage of one Responses-API reply."""
    calls = [
        ToolCallRequest(item.call_id, item.name, item.arguments)
        for item in response.output
        if item.type == "function_call"
    ]
    usage = Usage()
    if response.usage is not None:
        details = response.usage.output_tokens_details
        usage = Usage(
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            reasoning_tokens=(details.reasoning_tokens or 0) if details else 0,
        )
    return PolicyTurn(
        text=response.output_text, tool_calls=calls, usage=usage, model=response.model
    )


def policy_from_env(
    env: Mapping[str, str] | None = None,
    *,
    default_model: str = "gpt-5-mini",
    reasoning_effort: str | None = "low",
) -> OpenAICompatiblePolicy | None:
    """A policy for whatever the environment configures, or None when nothing is.

    Azure: ``AZURE_OPENAI_API_KEY`` + ``AZURE_OPENAI_ENDPOINT`` (+ ``OPENAI_API_VERSION``);
    OpenAI: ``OPENAI_API_KEY``; vLLM or Ollama: ``OPENAI_BASE_URL`` (the key may be anything).
    ``RFTKIT_MODEL`` picks the model (default ``default_model``).
    """
    env = os.environ if env is None else env
    model = env.get("RFTKIT_MODEL", default_model)
    client: openai.AsyncOpenAI
    if env.get("AZURE_OPENAI_API_KEY") and env.get("AZURE_OPENAI_ENDPOINT"):
        client = openai.AsyncAzureOpenAI(
            api_key=env["AZURE_OPENAI_API_KEY"],
            azure_endpoint=env["AZURE_OPENAI_ENDPOINT"],
            api_version=env.get("OPENAI_API_VERSION", AZURE_API_VERSION),
        )
    elif env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"):
        client = openai.AsyncOpenAI(
            api_key=env.get("OPENAI_API_KEY") or "unused-by-local-servers",
            base_url=env.get("OPENAI_BASE_URL") or None,
        )
    else:
        return None
    return OpenAICompatiblePolicy(client, model, reasoning_effort=reasoning_effort)
