"""The contract check: does an endpoint answer each kind of call the way the trainer needs?

Each check sends one request and compares the status (and, where it matters, the body) with
what the trainer and the model need: 200 with a ``function_call_output`` for good calls, a 4xx
the model can read for its own mistakes, 401/403 for bad tokens, 413 over 1 MB, and the same
reply for a replayed ``call_id``. A 5xx anywhere here would discard a training rollout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from rftkit.endpoints.target import Endpoint, Probe, new_trace_id
from rftkit.protocol import MAX_PAYLOAD_BYTES, FunctionCallOutput


@dataclass(frozen=True)
class CheckResult:
    """One contract check: what was expected, what came back, and whether that is a pass."""

    name: str
    passed: bool | None  # None: skipped, with the reason in ``got``
    expected: str
    got: str


Outcome = httpx.Response | str
"""A response, or the name of the transport error (timeout, refused connection) that replaced it."""


def _reply_ok(response: Outcome, request: dict, expected_output: str) -> tuple[bool, str]:
    if isinstance(response, str):
        return False, f"no response: {response}"
    if response.status_code != 200:
        return False, f"{response.status_code}: {response.text[:120]}"
    try:
        reply = FunctionCallOutput.model_validate(response.json())
    except ValueError as exc:
        return False, f"200 but not a function_call_output ({str(exc).splitlines()[0]})"
    if reply.call_id != request["call_id"]:
        return False, f"200 but call_id {reply.call_id!r} != {request['call_id']!r}"
    if reply.output != expected_output:
        return False, f"200 but output {reply.output[:60]!r} != {expected_output!r}"
    return True, f"200, output {reply.output[:60]!r}"


def _status_in(response: Outcome, allowed: range | tuple[int, ...]) -> tuple[bool, str]:
    if isinstance(response, str):
        return False, f"no response: {response}"
    return response.status_code in allowed, f"{response.status_code}: {response.text[:120]}"


async def check_contract(
    client: httpx.AsyncClient, endpoint: Endpoint, probe: Probe
) -> list[CheckResult]:
    """Run every contract check against ``endpoint`` using ``client``; results in order."""
    results: list[CheckResult] = []
    call_url = f"{endpoint.url}{endpoint.call_path}"

    async def send(method: str, url: str, **kwargs) -> Outcome:
        try:
            return await client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            return type(exc).__name__

    async def post(body: dict, *, url: str = call_url, token: str | bool | None = True):
        headers = {"Content-Type": "application/json", **endpoint.headers(token)}
        return await send("POST", url, content=json.dumps(body).encode(), headers=headers)

    def record(name: str, expected: str, outcome: tuple[bool, str]) -> None:
        results.append(CheckResult(name, outcome[0], expected, outcome[1]))

    health = await send("GET", f"{endpoint.url}/healthz")
    record("healthz answers", "200", _status_in(health, (200,)))

    good = probe.call(1, new_trace_id())
    record(
        "string arguments",
        "200 + right output",
        _reply_ok(await post(good), good, probe.expected(1)),
    )
    as_object = {**probe.call(2, new_trace_id()), "arguments": probe.arguments(2)}
    record(
        "object arguments",
        "200 + right output",
        _reply_ok(await post(as_object), as_object, probe.expected(2)),
    )
    per_tool = probe.call(3, new_trace_id())
    record(
        "per-tool URL",
        "200 + right output",
        _reply_ok(
            await post(per_tool, url=endpoint.url + endpoint.tool_path.format(name=probe.name)),
            per_tool,
            probe.expected(3),
        ),
    )
    bad = {**probe.call(4, new_trace_id()), "arguments": json.dumps({"__not_an_argument__": 1})}
    record("bad arguments", "4xx the model can read", _status_in(await post(bad), range(400, 500)))
    broken = {**probe.call(5, new_trace_id()), "arguments": "{not json"}
    record("arguments not JSON", "4xx", _status_in(await post(broken), range(400, 500)))
    unknown = {**probe.call(6, new_trace_id()), "name": "no_such_tool_xyz"}
    response = await post(unknown)
    ok, got = _status_in(response, range(400, 500))
    lists_tools = ok and probe.name in response.text
    record("unknown tool", f"4xx listing the tools ({probe.name})", (lists_tools, got))

    if endpoint.token:
        for name, token in (("missing token", None), ("wrong token", "wrong-" + "x" * 16)):
            outcome = _status_in(await post(probe.call(7, new_trace_id()), token=token), (401, 403))
            record(name, "401/403", outcome)
    else:
        for name in ("missing token", "wrong token"):
            results.append(CheckResult(name, None, "401/403", "skipped: no token given"))

    oversize = probe.call(8, new_trace_id())
    oversize["item"] = {"padding": "x" * (MAX_PAYLOAD_BYTES + 1000)}
    record("body over 1 MB", "413", _status_in(await post(oversize), (413,)))

    replay_trace = new_trace_id()
    first_call = probe.call(9, replay_trace)
    first, again = await post(first_call), await post(first_call)
    answered = not isinstance(first, str) and not isinstance(again, str)
    same = answered and (first.status_code, first.content) == (again.status_code, again.content)
    shown = [r if isinstance(r, str) else r.status_code for r in (first, again)]
    record(
        "replayed call_id",
        "same status and body",
        (same and first.status_code == 200, f"{shown[0]} then {shown[1]}"),
    )
    log = await send("GET", f"{endpoint.url}/traces/{replay_trace}", headers=endpoint.headers())
    if not isinstance(log, str) and log.status_code == 200:
        flags = [c.get("replayed") for c in log.json().get("calls", [])]
        record(
            "replay not re-executed",
            "trace log [False, True]",
            (flags == [False, True], str(flags)),
        )
    else:
        results.append(
            CheckResult(
                "replay not re-executed",
                None,
                "trace log",
                f"skipped: /traces {getattr(log, 'status_code', log)}",
            )
        )
    return results
