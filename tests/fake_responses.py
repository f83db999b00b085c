"""A local stand-in for a Responses-API server, for testing OpenAICompatiblePolicy offline.

Only for tests of the request/response plumbing: every request body is validated against the
``openai`` SDK's own ``ResponseCreateParamsNonStreaming`` (unknown top-level keys refused too), and
every reply is built as the SDK's ``Response`` model. Its "model" is a two-line rule, never a
stand-in for a real model's results.
"""

from __future__ import annotations

import itertools
import json
import typing

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from openai.types.responses import Response
from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming
from pydantic import TypeAdapter, ValidationError

PARAMS = TypeAdapter(ResponseCreateParamsNonStreaming)
ALLOWED_KEYS = set(typing.get_type_hints(ResponseCreateParamsNonStreaming))
FAKE_MODEL = "fake-responses-rule"


def fake_responses_app(bodies: list[dict], *, fail_with: int | None = None) -> FastAPI:
    """First turn: call every offered tool named ``echo`` twice in parallel with the user's text;
    after tool outputs: answer with them joined by ' + '. Usage reports reasoning tokens."""
    app = FastAPI()
    ids = itertools.count(1)

    @app.post("/v1/responses")
    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        unknown = set(body) - ALLOWED_KEYS
        try:
            if unknown:
                raise ValueError(f"unknown request keys {sorted(unknown)}")
            PARAMS.validate_python(body)
        except (ValueError, ValidationError) as exc:
            return JSONResponse({"error": {"message": str(exc)[:2000], "type": "invalid"}}, 400)
        bodies.append(body)
        if fail_with:
            return JSONResponse({"error": {"message": "overloaded", "type": "server"}}, fail_with)
        outputs = [i["output"] for i in body["input"] if i.get("type") == "function_call_output"]
        user = next(i["content"] for i in body["input"] if i.get("role") == "user")
        n = next(ids)
        if outputs or not body.get("tools"):
            text = " + ".join(outputs) or "no tools"
            output = [
                {
                    "type": "message",
                    "id": f"msg_{n}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ]
        else:
            output = [
                {
                    "type": "function_call",
                    "id": f"fc_{n}_{i}",
                    "call_id": f"call_{n}_{i}",
                    "name": "echo",
                    "arguments": json.dumps({"text": f"{user} #{i}"}),
                    "status": "completed",
                }
                for i in range(2)
            ]
        response = Response.model_validate(
            {
                "id": f"resp_{n}",
                "object": "response",
                "created_at": 0,
                "model": FAKE_MODEL,
                "status": "completed",
                "output": output,
                "parallel_tool_calls": body.get("parallel_tool_calls", True),
                "tool_choice": "auto",
                "tools": body.get("tools", []),
                "usage": {
                    "input_tokens": 50 * n,
                    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": 20,
                    "output_tokens_details": {"reasoning_tokens": 12},
                    "total_tokens": 50 * n + 20,
                },
            }
        )
        return JSONResponse(response.model_dump(mode="json"))

    return app
