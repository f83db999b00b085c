"""Test doubles for the rollout tests: a small tool endpoint with knobs, and a scripted-turn policy.

The endpoint speaks the real wire format (``rftkit.protocol``) and is served by real uvicorn, so
the engine's HTTP path is exercised for real; only the tools are toy ones (echo, sleep, fail).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rftkit.protocol import FunctionCall, FunctionCallOutput, ToolError, ToolErrorDetail
from rftkit.rollouts import PolicyTurn, ToolCallRequest

TOKEN = "s3cret-token-value"


@dataclass
class EndpointLog:
    """What the fake endpoint saw, for assertions (written from the server thread)."""

    calls: list[FunctionCall] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    traces_in_flight: Counter = field(default_factory=Counter)
    max_traces_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def fake_tool_app(log: EndpointLog, *, token: str | None = TOKEN) -> FastAPI:
    """Tools: ``echo(text)``, ``sleep(seconds)``, ``flaky(fail_times)``, ``broken()``,
    ``refuse()`` (400 with a ToolError body). One dispatch route and one route per tool."""
    app = FastAPI()

    async def handle(request: Request, name: str | None = None) -> JSONResponse:
        if token and request.headers.get("authorization") != f"Bearer {token}":
            return _error(401, "unauthorized", "missing or wrong bearer token")
        call = FunctionCall.model_validate(await request.json())
        args = call.parsed_arguments()
        with log.lock:
            log.calls.append(call)
            log.in_flight += 1
            log.max_in_flight = max(log.max_in_flight, log.in_flight)
            log.traces_in_flight[call.trace_id] += 1
            live = sum(1 for n in log.traces_in_flight.values() if n)
            log.max_traces_in_flight = max(log.max_traces_in_flight, live)
        try:
            if call.name == "sleep":  # stops early when the client goes away, as it should
                deadline = time.monotonic() + args["seconds"]
                while time.monotonic() < deadline:
                    if await request.is_disconnected():
                        return _error(499, "client_closed", "the caller went away")
                    await asyncio.sleep(min(0.05, args["seconds"]))
                return _output(call, f"slept {args['seconds']}")
            if call.name == "flaky":
                key = (call.trace_id, call.call_id)
                with log.lock:
                    log.failures[key] += 1
                    failed = log.failures[key]
                if failed <= args["fail_times"]:
                    return _error(503, "unavailable", "try again", retryable=True)
                return _output(call, f"ok after {failed - 1} failures")
            if call.name == "broken":
                return _error(500, "internal", "always broken", retryable=True)
            if call.name == "refuse":
                return _error(400, "invalid_argument", "refused: ask differently", param="x")
            return _output(call, f"echo: {args.get('text', '')}")
        finally:
            with log.lock:
                log.in_flight -= 1
                log.traces_in_flight[call.trace_id] -= 1

    @app.post("/call")
    async def dispatch(request: Request) -> JSONResponse:
        return await handle(request)

    @app.post("/tools/{name}")
    async def per_tool(name: str, request: Request) -> JSONResponse:
        return await handle(request, name)

    @app.post("/grade")
    async def grade(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"score": 1.0 if "echo" in body["sample"]["output_text"] else 0.0})

    @app.post("/grade-broken")
    async def grade_broken() -> JSONResponse:
        return JSONResponse({"detail": "down"}, status_code=502)

    return app


def _output(call: FunctionCall, text: str) -> JSONResponse:
    return JSONResponse(FunctionCallOutput.answering(call, text).model_dump())


def _error(status: int, code: str, message: str, **extra) -> JSONResponse:
    body = ToolError(error=ToolErrorDetail(code=code, message=message, **extra))
    return JSONResponse(body.model_dump(), status_code=status)


def job_tools(base_url: str, names=("echo", "sleep", "flaky", "broken", "refuse"), token=TOKEN):
    """Job-style tool config: every tool on the one dispatch URL."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return [{"name": n, "server_url": f"{base_url}/call", "headers": headers} for n in names]


def item(task_id: str = "t1", question: str = "q?") -> dict:
    return {"messages": [{"role": "user", "content": question}], "tools": [], "task_id": task_id}


class TurnsPolicy:
    """Plays fixed turns: each entry is a list of (name, arguments) calls; then answers with the
    tool outputs it has read, joined by ' | '."""

    name = "test-turns"

    def __init__(self, turns: list[list[tuple[str, dict]]]):
        self.turns = turns
        self.seen: list[list[dict]] = []

    async def next_turn(self, conversation, tools, *, trace_id):
        self.seen.append(conversation)
        done = _turns_done(conversation)
        if done < len(self.turns):
            calls = [
                ToolCallRequest(f"call_{done}_{i}", name, json.dumps(args))
                for i, (name, args) in enumerate(self.turns[done])
            ]
            return PolicyTurn(tool_calls=calls, model="turns")
        outputs = [c["output"] for c in conversation if c.get("type") == "function_call_output"]
        return PolicyTurn(text=" | ".join(outputs), model="turns")


def _turns_done(conversation: list[dict]) -> int:
    ids = {c["call_id"].split("_")[1] for c in conversation if c.get("type") == "function_call"}
    return len(ids)


def course_items(tasks, style: str = "full", world_seed: int = 0) -> list[dict]:
    """Course dataset lines from world tasks, shaped like ``rftkit.data.build_dataset``'s."""
    from tools_service.tools import toolbox

    compact = style == "compact"
    return [
        {
            "messages": [
                {"role": "developer", "content": "Answer from the reports, using the tools."},
                {"role": "user", "content": task.question},
            ],
            "tools": toolbox.specs(),
            "task_id": task.id,
            "reference_answer": task.answer,
            "reference_value": task.answer_value,
            "unit": task.unit,
            "task_type": task.task_type,
            "tier": task.tier,
            "min_tool_calls": task.compact_min_tool_calls if compact else task.min_tool_calls,
            "evidence": list(task.compact_evidence if compact else task.evidence),
            "world_seed": world_seed,
            "corpus_style": style,
        }
        for task in tasks
    ]


class Unreliable:
    """ASGI wrapper around a real app: fails or delays tool calls before they reach it.

    ``fail_first`` answers 503 to the first n attempts of every call; ``always_fail`` answers 503
    to every call of the named tools; ``delay`` holds every call that long first.
    """

    def __init__(self, app, *, fail_first: int = 0, always_fail=(), delay: float = 0.0):
        self.app = app
        self.fail_first = fail_first
        self.always_fail = set(always_fail)
        self.delay = delay
        self.attempts: Counter = Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/call":
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        call = json.loads(body)
        key = (call["trace_id"], call["call_id"])
        self.attempts[key] += 1
        if self.delay:  # hold the call, but let go as soon as the caller hangs up
            try:
                message = await asyncio.wait_for(receive(), timeout=self.delay)
            except TimeoutError:
                pass
            else:
                if message["type"] == "http.disconnect":
                    return None
        if call["name"] in self.always_fail or self.attempts[key] <= self.fail_first:
            response = _error(503, "unavailable", "deliberately flaky", retryable=True)
            return await response(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)
