"""``score_model`` and ``label_model`` through any OpenAI-compatible chat-completions endpoint.

The service asks the grader model for ``{"result": ..., "steps": [{"description", "conclusion"}]}``
(docs/hosted-api.md §5.2); here that is a strict JSON-schema ``response_format``, so any server that
supports structured outputs (OpenAI, Azure, vLLM, a local fake) can play the grader model.
``score_model`` clips ``result`` to ``range`` (default ``[0, 1]``); ``label_model`` scores 1 when
the label is among ``passing_labels``. Templates are filled in every text part of every message.

Failures are flags, never exceptions: no client and no ``OPENAI_API_KEY`` or an API error is
``model_grader_server_error`` (details name the error type and status, never headers);
a refusal is ``model_grader_refusal_error``; an answer that is not the schema is
``model_grader_parse_error``. Token usage is summed per model into
``model_grader_token_usage_per_model``.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
from collections.abc import Mapping
from typing import Any

import openai

from rftkit.graders.engine import _render
from rftkit.graders.result import GraderFailure
from rftkit.protocol import Sample

_STEPS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"description": {"type": "string"}, "conclusion": {"type": "string"}},
        "required": ["description", "conclusion"],
        "additionalProperties": False,
    },
}
_SAMPLING_PARAMS = {  # grader sampling_params key -> chat.completions argument
    "seed": "seed",
    "temperature": "temperature",
    "top_p": "top_p",
    "max_completions_tokens": "max_completion_tokens",
    "reasoning_effort": "reasoning_effort",
}


def output_schema(grader: Mapping[str, Any]) -> dict[str, Any]:
    """The ``response_format`` the grader model must follow."""
    if grader["type"] == "label_model":
        result: dict[str, Any] = {"type": "string", "enum": list(grader["labels"])}
    else:
        result = {"type": "number"}
    return {
        "type": "json_schema",
        "json_schema": {
            "name": f"{grader['type']}_output",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"steps": _STEPS, "result": result},
                "required": ["steps", "result"],
                "additionalProperties": False,
            },
        },
    }


def _part(part: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": _render(part, context)}
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": _render(part["text"], context)}
    if kind == "input_image":
        image = {"url": _render(part["image_url"], context)}
        if "detail" in part:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": dict(part["input_audio"])}
    raise GraderFailure("other_error", f"unsupported content part type {kind!r}")


def chat_messages(grader: Mapping[str, Any], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The grader's ``input`` as chat-completions messages, templates filled."""
    messages = []
    for message in grader["input"]:
        content = message["content"]
        if isinstance(content, str):
            rendered: Any = _render(content, context)
        else:
            parts = content if isinstance(content, list) else [content]
            rendered = [_part(part, context) for part in parts]
        messages.append({"role": message["role"], "content": rendered})
    return messages


def request_arguments(grader: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``client.chat.completions.create``."""
    arguments = {
        "model": grader["model"],
        "messages": chat_messages(grader, context),
        "response_format": output_schema(grader),
    }
    for ours, theirs in _SAMPLING_PARAMS.items():
        value = (grader.get("sampling_params") or {}).get(ours)
        if value is not None:
            arguments[theirs] = value
    return arguments


def _client(run) -> Any:
    if run.model_client is not None:
        return run.model_client
    if not os.environ.get("OPENAI_API_KEY"):
        raise GraderFailure(
            "model_grader_server_error",
            "no model client: pass model_client=openai.OpenAI(base_url=...) or set OPENAI_API_KEY",
        )
    return openai.OpenAI()


async def _create(client: Any, arguments: dict[str, Any]) -> Any:
    create = client.chat.completions.create
    if inspect.iscoroutinefunction(create):
        return await create(**arguments)
    return await asyncio.to_thread(create, **arguments)


def _record_usage(run, completion: Any) -> None:
    usage = getattr(completion, "usage", None)
    model = getattr(completion, "model", None) or "unknown"
    run.sampled_model_name = model
    if usage is None:
        return
    cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0) or 0
    totals = run.usage.setdefault(
        model, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0}
    )
    totals["prompt_tokens"] += usage.prompt_tokens or 0
    totals["completion_tokens"] += usage.completion_tokens or 0
    totals["total_tokens"] += usage.total_tokens or 0
    totals["cached_tokens"] += cached


def _result(grader: Mapping[str, Any], content: str | None) -> float:
    # The judge's answer can be steered by the sample it reads (prompt injection): decode it with
    # the same bounded, strict parser as model output, never plain json.loads.
    answer = Sample.decode_json(content or "")
    try:
        result = answer["result"]
    except (KeyError, TypeError):
        raise GraderFailure(
            "model_grader_parse_error", f"not a {{result, steps}} object: {content!r:.200}"
        ) from None
    if grader["type"] == "label_model":
        if result not in grader["labels"]:
            raise GraderFailure(
                "model_grader_parse_error", f"label {result!r} is not one of {grader['labels']}"
            )
        return float(result in grader["passing_labels"])
    if isinstance(result, bool) or not isinstance(result, int | float) or not math.isfinite(result):
        raise GraderFailure("model_grader_parse_error", f"result {result!r} is not a number")
    low, high = grader.get("range") or (0.0, 1.0)
    return float(min(max(result, low), high))


async def score_with_model(grader: Mapping[str, Any], context: Mapping[str, Any], run) -> float:
    """Engine hook: ask the grader model and turn its structured answer into a reward."""
    arguments = request_arguments(grader, context)
    client = _client(run)
    try:
        completion = await _create(client, arguments)
    except openai.APIStatusError as exc:
        raise GraderFailure(
            "model_grader_server_error", f"{type(exc).__name__} (HTTP {exc.status_code})"
        ) from None
    except openai.APIError as exc:
        raise GraderFailure("model_grader_server_error", type(exc).__name__) from None
    _record_usage(run, completion)
    if not completion.choices:
        raise GraderFailure("model_grader_parse_error", "the completion has no choices")
    message = completion.choices[0].message
    if getattr(message, "refusal", None):
        raise GraderFailure("model_grader_refusal_error", f"refused: {message.refusal:.200}")
    return _result(grader, message.content)
