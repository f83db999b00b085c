"""The contract check: does each of a job's tool URLs answer the way the trainer needs?

Every check sends one request and sorts what came back into *pass*, *note* or *blocker*:

- **Blockers** cost rollouts or make a tool unusable: the task's headers refused (401/403), a
  5xx or no answer (the trainer retries 3 times, then discards the whole rollout), a 200 whose
  body is not a ``function_call_output`` with the call's ``call_id`` and a string ``output``, a
  wrong answer to a probe whose answer is known, another rollout's calls in a rollout's trace log,
  a 4xx to an example call the caller said is valid, and no 200 from any tool at all.
- **Notes** are conventions the model still sees through: no ``/healthz``; a model's mistake
  (bad arguments, arguments not JSON, an unknown tool) answered 200 with ``"Error: …"`` text, as
  OpenAI's build-hours tool server does; a body over 1 MB accepted (the trainer never sends one);
  no auth; a replayed ``call_id`` executed again; a 4xx to arguments generated from the schema
  (a made-up file name is rightly not found).

Calls go to each tool's own ``server_url`` with its own headers, as the trainer sends them; checks
that are about a URL rather than a tool run once per URL, ``/healthz`` once per host.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import httpx
from pydantic import ValidationError

from rftkit.endpoints.examples import describe
from rftkit.endpoints.target import Probe, ToolTarget, new_trace_id
from rftkit.protocol import MAX_PAYLOAD_BYTES, FunctionCallOutput

Outcome = Literal["pass", "note", "blocker", "skip"]
Reply = httpx.Response | str
"""A response, or the name of the transport error (timeout, refused connection) that replaced it."""

DISCARDED = "the trainer retries it 3 times, then discards the whole rollout"
SHOWN_OUTPUT = 80
"""Characters of a reply's output shown (after masking: room for two masked values)."""
MISTAKE_200 = (
    "the model reads the reply as the tool's output (build-hours' convention: 'Error: …' text); "
    "fine when the text says what was wrong"
)


@dataclass(frozen=True)
class CheckResult:
    """One contract check on one tool or URL: what was expected, what came back, the verdict.

    ``why`` says what the outcome costs a training job (empty for a pass).
    """

    name: str
    target: str
    outcome: Outcome
    expected: str
    got: str
    why: str = ""

    @property
    def passed(self) -> bool | None:
        """True for a pass, False for a note or blocker, None when skipped."""
        return None if self.outcome == "skip" else self.outcome == "pass"


@dataclass
class _Context:
    client: httpx.AsyncClient
    redact: Callable[[str], str]
    results: list[CheckResult]

    async def send(self, method: str, url: str, **kwargs) -> Reply:
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            return type(exc).__name__

    async def post(
        self, target: ToolTarget, body: dict, headers: dict[str, str] | None = None
    ) -> Reply:
        content = json.dumps(body).encode()
        return await self.send(
            "POST", target.url, content=content, headers=target.request_headers(headers)
        )

    def shown(self, reply: Reply) -> str:
        """Status and the start of the body, secrets masked before cutting."""
        if isinstance(reply, str):
            return f"no response: {reply}"
        return f"{reply.status_code}: {self.redact(reply.text)[:120]}"

    def record(
        self, name: str, target: str, outcome: Outcome, expected: str, got: str, why: str = ""
    ) -> None:
        target, expected, got, why = (self.redact(t) for t in (target, expected, got, why))
        self.results.append(CheckResult(name, target, outcome, expected, got, why))


def _shape_problem(
    reply: httpx.Response, call_id: str, redact: Callable[[str], str] = str
) -> str | None:
    """Why a 2xx body is not the ``function_call_output`` for ``call_id`` (None when it is).

    Pydantic's error is quoted without the input value, and an echoed ``call_id`` is masked
    before it is cut short.
    """
    try:
        output = FunctionCallOutput.model_validate_json(reply.content)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"])) or "body"
        return f"not a function_call_output ({redact(where)[:40]}: {first['msg'][:80]})"
    if output.call_id != call_id:
        shown = redact(output.call_id)[:40]
        return f"call_id {shown!r} is not the call's {call_id!r} (a crossed reply)"
    return None


def _no_route(reply: httpx.Response) -> bool:
    """A 405, or a 404 with the framework's bare "Not Found": the URL itself is wrong.

    A tool's own 404 says what was not found (``no file 'x'``); a router's says only
    ``Not Found`` (FastAPI/Starlette ``{"detail": "Not Found"}``, the course service's
    ``{"error": {"message": "Not Found"}}``, plain text from other servers).
    """
    if reply.status_code == 405:
        return True
    if reply.status_code != 404:
        return False
    if reply.text.strip() in ("Not Found", "404 Not Found", "404: Not Found"):
        return True
    try:
        body = reply.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    messages = [body.get("detail"), body.get("message")] if isinstance(body, dict) else []
    messages += [error.get("message")] if isinstance(error, dict) else []
    return "Not Found" in messages


def _judge_valid_call(
    ctx: _Context, reply: Reply, body: dict, probe: Probe, expected: str | None
) -> tuple[Outcome, str, str]:
    """(outcome, got, why) for a call the tool should answer with its output."""
    got = ctx.shown(reply)
    if isinstance(reply, str) or reply.status_code >= 500:
        return "blocker", got, DISCARDED
    status = reply.status_code
    if status in (401, 403):
        return "blocker", got, "the endpoint refuses the task's headers: every call would fail"
    if _no_route(reply):
        return "blocker", got, "no route answers POST at this server_url: check the tool's URL"
    if 400 <= status < 500:
        if probe.generated:
            return (
                "note",
                got,
                (
                    "the arguments were generated from the schema and refused; the model reads "
                    "this body. Check the success path with an example: "
                    f"--probe {probe.name}='{{...}}'"
                ),
            )
        return "blocker", got, "a call given as valid was refused: the model would only see errors"
    if not 200 <= status < 300:
        return "blocker", got, f"HTTP {status} is neither an answer nor an error the model can read"
    problem = _shape_problem(reply, body["call_id"], ctx.redact)
    if problem:
        return "blocker", f"{status}: {problem}", "the trainer needs {call_id, output: string}"
    output = FunctionCallOutput.model_validate_json(reply.content).output
    if expected is not None and output != expected:
        return (
            "blocker",
            f"{status}: output {ctx.redact(output)[:SHOWN_OUTPUT]!r} != {expected!r}",
            ("the answer is wrong for this call (a reply meant for another call?)"),
        )
    if len(reply.content) > MAX_PAYLOAD_BYTES:
        return (
            "note",
            f"{status}: {len(reply.content):,} bytes",
            ("replies over 1 MB reach the model as a 413 error instead"),
        )
    return "pass", f"{status}, output {ctx.redact(output)[:SHOWN_OUTPUT]!r}", ""


def _judge_mistake(
    ctx: _Context, reply: Reply, call_id: str, must_mention: Sequence[str] = ()
) -> tuple[Outcome, str, str]:
    """(outcome, got, why) for a model's mistake: a 4xx is best, a 200 is a note, 5xx a blocker."""
    got = ctx.shown(reply)
    if isinstance(reply, str) or reply.status_code >= 500:
        return "blocker", got, f"a model's mistake would cost the rollout: {DISCARDED}"
    status = reply.status_code
    if status in (401, 403):
        return "blocker", got, "the endpoint refuses the task's headers"
    if 400 <= status < 500:
        if must_mention and not any(name in reply.text for name in must_mention):
            return "note", got, "the error does not name the tools, so the model cannot correct it"
        return "pass", got, ""
    if 200 <= status < 300:
        problem = _shape_problem(reply, call_id, ctx.redact)
        if problem:
            return "blocker", f"{status}: {problem}", "a 200 must be a function_call_output"
        if must_mention:
            return (
                "note",
                got,
                (
                    "the URL ran its own tool whatever the call's name (build-hours' servers do); "
                    "the model gets an output, not an error"
                ),
            )
        return "note", got, MISTAKE_200
    return "note", got, f"HTTP {status}: what the model sees is up to the trainer"


def _wrong_values(headers: dict[str, str]) -> dict[str, str]:
    """The same header names with wrong values (keeping a ``Bearer `` style scheme)."""
    wrong = {}
    for name, value in headers.items():
        scheme, space, _ = value.partition(" ")
        wrong[name] = (f"{scheme} " if space and scheme.isalpha() else "") + "wrong-" + "x" * 16
    return wrong


async def _check_tool(
    ctx: _Context, target: ToolTarget, probe: Probe, n: int, by_name: dict[str, ToolTarget]
) -> bool:
    """The tool answers its probe; True when a valid reply came back (shape verified). The
    calls of ``probe.before`` go first under the same trace id and item (a stateful tool's
    scenario); one that is not answered 2xx is the finding, since the probe could not be tried."""
    trace_id = new_trace_id()
    steps = []
    for step, (name, arguments) in enumerate(probe.before):
        earlier = replace(Probe.fixed(name, arguments), items=probe.items)
        steps.append(describe(earlier))
        sent = earlier.call(n, trace_id)
        reply = await ctx.post(by_name[name], sent) if name in by_name else "not a job tool"
        if isinstance(reply, str) or not 200 <= reply.status_code < 300:
            ctx.record(
                "valid call",
                target.name,
                "blocker",
                f"200 to the scenario's call {step} {steps[-1]}",
                ctx.shown(reply),
                f"the calls {probe.name} needs first in the rollout fail, so it cannot be tried",
            )
            return False
    body = probe.call(n, trace_id)
    expected = probe.expected(n) if probe.expected else None
    outcome, got, why = _judge_valid_call(ctx, await ctx.post(target, body), body, probe, expected)
    shown = describe(probe, n) + (f" → {expected!r}" if expected is not None else "")
    shown += f" after {', '.join(steps)} in the same rollout" if steps else ""
    ctx.record("valid call", target.name, outcome, f"200 function_call_output: {shown}", got, why)
    return outcome == "pass" or (outcome == "note" and got.startswith("2"))


async def _check_url(
    ctx: _Context,
    url_tools: list[ToolTarget],
    probes: dict[str, Probe],
    verified: set[str],
    n: int,
) -> None:
    """Checks about a URL: the other argument forms, mistakes, auth, size and replays.

    They use a tool whose probe was answered (``verified``) where there is one, so a refused
    made-up example does not show up again as a fault of every other check.
    """
    # A verified tool that needs no earlier call: these checks send one call per rollout.
    ranked = sorted(url_tools, key=lambda t: (t.name not in verified, bool(probes[t.name].before)))
    target = ranked[0]
    probe = probes[target.name]
    label = ", ".join(t.name for t in url_tools)

    if target.name in verified:
        as_object = {**probe.call(n, new_trace_id()), "arguments": probe.arguments(n)}
        reply = await ctx.post(target, as_object)
        ok = not isinstance(reply, str) and 200 <= reply.status_code < 300
        ok = ok and _shape_problem(reply, as_object["call_id"]) is None
        ctx.record(
            "object arguments",
            label,
            "pass" if ok else "note",
            "200 function_call_output",
            ctx.shown(reply),
            ""
            if ok
            else "the trainer sends arguments as a string; only other clients send objects",
        )
    else:
        ctx.record(
            "object arguments",
            label,
            "skip",
            "200 function_call_output",
            "skipped: no probe of this URL was answered",
        )

    bad = {**probe.call(n + 1, new_trace_id()), "arguments": json.dumps({"__not_an_arg__": 1})}
    outcome = _judge_mistake(ctx, await ctx.post(target, bad), bad["call_id"])
    ctx.record("bad arguments", label, outcome[0], "4xx the model can read", *outcome[1:])

    broken = {**probe.call(n + 2, new_trace_id()), "arguments": "{not json"}
    outcome = _judge_mistake(ctx, await ctx.post(target, broken), broken["call_id"])
    ctx.record("arguments not JSON", label, outcome[0], "4xx the model can read", *outcome[1:])

    unknown = {**probe.call(n + 3, new_trace_id()), "name": "no_such_tool_xyz"}
    names = [t.name for t in url_tools]
    outcome = _judge_mistake(ctx, await ctx.post(target, unknown), unknown["call_id"], names)
    ctx.record("unknown tool", label, outcome[0], "4xx naming the tools", *outcome[1:])

    if target.headers:
        for name, headers in (("no headers", {}), ("wrong header values", None)):
            headers = _wrong_values(dict(target.headers)) if headers is None else headers
            reply = await ctx.post(target, probe.call(n + 4, new_trace_id()), headers)
            refused = not isinstance(reply, str) and reply.status_code in (401, 403)
            why = "" if refused else "anyone who has the URL can call the tool"
            ctx.record(name, label, "pass" if refused else "note", "401/403", ctx.shown(reply), why)
    else:
        for name in ("no headers", "wrong header values"):
            ctx.record(name, label, "skip", "401/403", "skipped: the job sends no headers")

    oversize = probe.call(n + 5, new_trace_id())
    oversize["item"] = {"padding": "x" * (MAX_PAYLOAD_BYTES + 1000)}
    reply = await ctx.post(target, oversize)
    refused = not isinstance(reply, str) and reply.status_code == 413
    why = (
        ""
        if refused
        else "the trainer never sends a body over 1 MB, so this only matters to other clients"
    )
    ctx.record("body over 1 MB", label, "pass" if refused else "note", "413", ctx.shown(reply), why)

    await _check_replay(ctx, target, probe, n + 6, label)


async def _check_replay(
    ctx: _Context, target: ToolTarget, probe: Probe, n: int, label: str
) -> None:
    """A retried ``call_id`` gets the same reply; the trace log (if any) holds only this rollout."""
    trace = new_trace_id()
    call = probe.call(n, trace)
    first, again = await ctx.post(target, call), await ctx.post(target, call)
    same = not isinstance(first, str) and not isinstance(again, str)
    same = same and (first.status_code, first.content) == (again.status_code, again.content)
    statuses = [r if isinstance(r, str) else r.status_code for r in (first, again)]
    ctx.record(
        "replayed call_id",
        label,
        "pass" if same else "note",
        "same status and body",
        f"{statuses[0]} then {statuses[1]}" + ("" if same else ", different bodies"),
        ""
        if same
        else "a retry after a 5xx or timeout runs the call again: fine for read-only "
        "tools, a double effect for tools that change state",
    )
    log = await ctx.send("GET", f"{target.origin}/traces/{trace}", headers=dict(target.headers))
    if isinstance(log, str) or log.status_code != 200:
        status = log if isinstance(log, str) else log.status_code
        ctx.record("trace log", label, "skip", "one rollout's calls", f"skipped: /traces {status}")
        return
    try:
        calls = log.json().get("calls", [])
        logged = [(c.get("call_id"), c.get("replayed")) for c in calls]
    except (ValueError, AttributeError, TypeError):
        ctx.record("trace log", label, "skip", "one rollout's calls", "skipped: not a trace log")
        return
    foreign = sorted({str(cid) for cid, _ in logged if cid != call["call_id"]})
    if foreign:
        ctx.record(
            "trace log",
            label,
            "blocker",
            "only this rollout's calls",
            f"{len(foreign)} foreign call(s) {foreign[:3]}",
            "crossed rollouts: one rollout's state holds another's calls",
        )
    elif [flag for _, flag in logged] == [False, True]:
        ctx.record("trace log", label, "pass", "[not replayed, replayed]", str(logged))
    else:
        ctx.record(
            "trace log",
            label,
            "note",
            "[not replayed, replayed]",
            str(logged),
            "the replayed call was executed again",
        )


async def check_contract(
    client: httpx.AsyncClient,
    targets: Sequence[ToolTarget],
    probes: dict[str, Probe],
    redact: Callable[[str], str],
) -> list[CheckResult]:
    """Every contract check against the job's tools, with ``client``; results in order."""
    ctx = _Context(client, redact, [])
    for origin in dict.fromkeys(t.origin for t in targets):
        headers = next(dict(t.headers) for t in targets if t.origin == origin)
        health = await ctx.send("GET", f"{origin}/healthz", headers=headers)
        ok = not isinstance(health, str) and health.status_code == 200
        ctx.record(
            "healthz",
            redact(origin),
            "pass" if ok else "note",
            "200",
            ctx.shown(health),
            ""
            if ok
            else "nothing for pre-warming or a load balancer to ping; the trainer does not need it",
        )
    by_name = {t.name: t for t in targets}
    verified = {
        t.name
        for i, t in enumerate(targets)
        if await _check_tool(ctx, t, probes[t.name], 10 * i, by_name)
    }
    by_url: dict[str, list[ToolTarget]] = {}
    for target in targets:
        by_url.setdefault(target.url, []).append(target)
    for i, url_tools in enumerate(by_url.values()):
        await _check_url(ctx, url_tools, probes, verified, 1000 + 10 * i)
    if not any(verified):
        ctx.record(
            "any tool answers",
            "all tools",
            "blocker",
            "one 200 function_call_output",
            "no tool answered its probe with a valid reply",
            "the reply shape is unverified and the model may never get a tool's output; check "
            "the server_url paths and give examples that succeed (--probe NAME='{...}')",
        )
    return ctx.results
