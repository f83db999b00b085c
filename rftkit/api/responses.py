"""``/v1/responses`` and ``/v1/chat/completions``: one model turn of a served local model.

Both render the conversation with the local model's tokenizer and sample one turn with
:class:`~rftkit.local.policy.LocalModelPolicy` — the trainer's own rollout code — so a
fine-tuned model answers here exactly as it did in its rollouts: either a final answer or one
function call. Stateless, like ``OpenAICompatiblePolicy`` uses the API: each request carries the
whole conversation (``store`` is ignored; ``previous_response_id`` and streaming are refused). A
conversation that fills the model's context gets an empty answer marked ``incomplete``.
``tools`` are echoed but do not constrain the model, which knows the tools it was trained on
(the base model the course's four, a warm-started one its task's).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from rftkit.api.errors import bad_request, unsupported
from rftkit.api.models import registry
from rftkit.protocol import FunctionCallItem
from rftkit.rollouts.engine import new_trace_id
from rftkit.rollouts.policy import PolicyTurn

MAX_INPUT_BYTES = 1_000_000


class ResponsesRequest(BaseModel):
    """The ``responses.create`` fields the server reads; others are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    stream: bool | None = None
    previous_response_id: str | None = None
    text: dict[str, Any] | None = None


class ChatRequest(BaseModel):
    """The ``chat.completions.create`` fields the server reads; others are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    temperature: float | None = None
    top_p: float | None = None
    stream: bool | None = None
    n: int | None = None
    response_format: dict[str, Any] | None = None


class Sampling(NamedTuple):
    """How a turn is sampled: the request's ``temperature`` and ``top_p``, defaults filled in."""

    temperature: float
    top_p: float


def refuse_unservable(
    stream: bool | None, tool_choice: Any, temperature: float | None, top_p: float | None
) -> Sampling:
    """400 for what the local model cannot do; how to sample otherwise."""
    if stream:
        raise unsupported("stream", "is not supported: answers come whole")
    if tool_choice not in (None, "auto"):
        raise unsupported("tool_choice", "supports only 'auto': the model decides its calls")
    return Sampling(_in_range("temperature", temperature, 2), _in_range("top_p", top_p, 1))


def _in_range(name: str, value: float | None, highest: float) -> float:
    """``value`` (1 when not given), or the API's 400 for a number outside 0 to ``highest``."""
    value = 1.0 if value is None else value
    if value > highest:
        raise bad_request(
            f"Invalid '{name}': decimal above maximum value. Expected a value <= {highest}, but"
            f" got {value} instead.",
            name,
            "decimal_above_max_value",
        )
    if not value >= 0:  # NaN too
        raise bad_request(
            f"Invalid '{name}': decimal below minimum value. Expected a value >= 0, but got"
            f" {value} instead.",
            name,
            "decimal_below_min_value",
        )
    return value


class ModelTurn(NamedTuple):
    turn: PolicyTurn
    truncated: bool  # the conversation filled the model's context
    max_output_tokens: int  # the most one turn of this model may write


async def model_turn(
    request: Request, model: str, items: list[dict], sampling: Sampling
) -> ModelTurn:
    """One turn of ``model`` on ``items`` (Responses input items), as a rollout samples it, and
    whether the conversation filled the model's context (then the turn is an empty answer, as
    the trainer ends such a rollout, rather than the API's 400 ``context_length_exceeded``: a
    rollout evaluated through the API is then scored as it would be in training)."""
    if len(json.dumps(items)) > MAX_INPUT_BYTES:
        raise bad_request("The input is larger than 1 MB.", "input", "string_above_max_length")
    policy = await asyncio.to_thread(registry(request).policy, model, sampling)
    trace_id = new_trace_id()
    try:
        turn = await policy.next_turn(items, [], trace_id=trace_id)
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request(f"Invalid input item: {exc}", "input", "invalid_value") from None
    finally:
        record = policy.records.pop(trace_id, None)
    return ModelTurn(turn, record is not None and record.truncated, policy.max_turn_tokens)


def input_items(body: ResponsesRequest) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if body.instructions:
        items.append({"role": "developer", "content": body.instructions})
    if isinstance(body.input, str):
        return [*items, {"role": "user", "content": body.input}]
    return items + list(body.input)


def chat_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as Responses input items (tool calls and tool results included)."""
    items: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": message.get("content") or "",
                }
            )
            continue
        if role not in ("system", "developer", "user", "assistant"):
            raise bad_request(
                f"Invalid value: '{role}'. Supported values are: 'system', 'developer', 'user', "
                "'assistant' and 'tool'.",
                f"messages.[{position}].role",
                "invalid_value",
            )
        if message.get("content"):
            items.append({"role": role, "content": message["content"]})
        for number, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function", {})
            try:
                item = FunctionCallItem(
                    call_id=call.get("id"),
                    name=function.get("name"),
                    arguments=function.get("arguments", "{}"),
                )
            except ValidationError:
                raise bad_request(
                    "A tool call needs an 'id' and a 'function' with a 'name' and 'arguments' "
                    "string.",
                    f"messages.[{position}].tool_calls.[{number}]",
                    "invalid_value",
                ) from None
            items.append(item.as_item())
    return items


router = APIRouter(prefix="/v1")


@router.post("/responses")
async def create_response(request: Request, body: ResponsesRequest) -> dict[str, Any]:
    sampling = refuse_unservable(body.stream, body.tool_choice, body.temperature, body.top_p)
    if body.previous_response_id:
        raise unsupported("previous_response_id", "is not supported: responses are not stored")
    if body.text and (body.text.get("format") or {}).get("type", "text") != "text":
        raise unsupported("text.format", "supports only plain text")
    turn, truncated, max_tokens = await model_turn(request, body.model, input_items(body), sampling)
    if turn.tool_calls:
        output = [
            FunctionCallItem(
                id=f"fc_{uuid.uuid4().hex}",
                call_id=call.call_id,
                name=call.name,
                arguments=call.arguments,
                status="completed",
            ).as_item()
            for call in turn.tool_calls
        ]
    else:
        output = [
            {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
            }
        ]
    usage = turn.usage
    return {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if truncated else "completed",
        "model": body.model,
        "output": output,
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "tool_choice": "auto",
        "tools": body.tools or [],
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_output_tokens": max_tokens,
        "instructions": body.instructions,
        "metadata": {},
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "text": {"format": {"type": "text"}},
        "usage": {
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
    }


@router.post("/chat/completions")
async def create_chat_completion(request: Request, body: ChatRequest) -> dict[str, Any]:
    sampling = refuse_unservable(body.stream, body.tool_choice, body.temperature, body.top_p)
    if body.n not in (None, 1):
        raise unsupported("n", "supports only 1")
    if body.response_format and body.response_format.get("type") != "text":
        raise unsupported("response_format", "supports only plain text")
    turn, truncated, _ = await model_turn(request, body.model, chat_items(body.messages), sampling)
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in turn.tool_calls
        ]
    else:
        message["content"] = turn.text
    usage = turn.usage
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "length"
                if truncated
                else ("tool_calls" if turn.tool_calls else "stop"),
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        },
    }
