"""The tool service over real HTTP (uvicorn on loopback): contract, state, auth, hostile input."""

import asyncio
import json
import logging
import os
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.course.world import generate_world, write_corpus
from rftkit.protocol import FunctionCallOutput, ToolError
from rftkit.serving import serve_in_background
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.registry import Toolbox, ToolContext
from rftkit.toolserver.state import InMemoryStateStore
from tools_service.app import TOKEN_ENV, create_app, truncate_output
from tools_service.tools import READ_BUDGET

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPORT = "reports/beltas-machines/2024-Q1.md"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("compact")
    write_corpus(generate_world(seed=0), root, style="compact")
    # A symlink out of the corpus must never be served.
    secret = tmp_path_factory.mktemp("outside") / "secret.md"
    secret.write_text("outside the corpus")
    os.symlink(secret, root / "reports" / "link.md")
    return Corpus.load(root)


@pytest.fixture(scope="module")
def url(corpus):
    with serve_in_background(create_app(corpus, token=TOKEN)) as base_url:
        yield base_url


@pytest.fixture
def client(url):
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        yield http


_counter = iter(range(10**9))


def body(name="calculator", trace_id=None, call_id=None, **arguments):
    n = next(_counter)
    return {
        "type": "function_call",
        "id": f"fc_{n}",
        "call_id": call_id or f"call_{n}",
        "name": name,
        "arguments": json.dumps(arguments or {"expression": "2 + 3"}),
        "trace_id": trace_id or f"trace_{n:08x}",
        "item": {"id": "task-1"},
    }


def error_of(response: httpx.Response) -> dict:
    return ToolError.model_validate(response.json()).error.model_dump()


def test_healthz_needs_no_token_and_shows_none(url):
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 200
    assert response.json()["tools"] == ["search", "list_files", "read_file", "calculator"]
    assert TOKEN not in response.text


def test_tools_lists_the_chat_completions_specs(client):
    specs = client.get("/tools").json()
    assert [s["function"]["name"] for s in specs] == [
        "search",
        "list_files",
        "read_file",
        "calculator",
    ]
    assert specs[0]["type"] == "function"


@pytest.mark.parametrize("route", ["/call", "/tools/calculator"])
@pytest.mark.parametrize("as_object", [False, True])
def test_a_call_answers_a_function_call_output_on_both_routes(client, route, as_object):
    request = body(expression="round(10 / 4, 1)")
    if as_object:
        request["arguments"] = json.loads(request["arguments"])
    response = client.post(route, json=request)
    assert response.status_code == 200
    reply = FunctionCallOutput.model_validate(response.json())
    assert reply.model_dump() == {
        "type": "function_call_output",
        "call_id": request["call_id"],
        "id": request["id"],
        "output": "2.5",
    }


def test_a_body_without_content_type_is_still_accepted(client):
    response = client.post("/call", content=json.dumps(body()).encode())
    assert "content-type" not in response.request.headers
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "missing"),
        ({"Authorization": "Bearer wrong-token"}, "wrong"),
        ({"Authorization": f"Basic {TOKEN}"}, "not bearer"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "longer"),
        ({"Authorization": "Bearer tëst".encode()}, "non-ascii"),
    ],
)
@pytest.mark.parametrize("route", ["/call", "/tools/calculator", "/tools", "/traces/trace_x"])
def test_every_route_but_healthz_needs_the_token(url, headers, why, route):
    method = "GET" if route in ("/tools", "/traces/trace_x") else "POST"
    response = httpx.request(
        method, f"{url}{route}", headers=headers, json=body() if method == "POST" else None
    )
    assert response.status_code == 401, why
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert error_of(response)["code"] == "unauthorized"
    assert TOKEN not in response.text


def test_the_app_refuses_to_start_open_unless_asked(corpus, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(RuntimeError, match=TOKEN_ENV):
        create_app(corpus)
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    app = create_app(corpus)
    with serve_in_background(app) as base:
        ok = httpx.post(f"{base}/call", json=body(), headers={"Authorization": "Bearer from-env"})
        assert ok.status_code == 200
    monkeypatch.delenv(TOKEN_ENV)
    open_app = create_app(corpus, allow_no_auth=True)
    with serve_in_background(open_app) as base:
        assert httpx.post(f"{base}/call", json=body()).status_code == 200


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_an_empty_token_is_refused_not_taken_for_no_auth(corpus, monkeypatch, how):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    token = None
    if how == "argument":
        token = ""
    else:
        monkeypatch.setenv(TOKEN_ENV, "")
    with pytest.raises(RuntimeError, match="unset or empty"):
        create_app(corpus, token=token)
    open_app = create_app(corpus, token=token, allow_no_auth=True)  # only when asked
    with serve_in_background(open_app) as base:
        assert httpx.post(f"{base}/call", json=body()).status_code == 200


ARGS = "arguments"
DEEP_ARGS = '{"a":' * 1000 + "1" + "}" * 1000


def _deep(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _raw_call(**raw_fields: str) -> bytes:
    """A call body with some fields given as raw JSON text (which json.dumps could not write)."""
    fields = {key: json.dumps(value) for key, value in body().items()}
    fields.update(raw_fields)
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


# The hostile-input catalogue: every case gets a documented status and a ToolError body.
CATALOGUE = [
    # (name, request body or raw bytes, status, code, param)
    ("unknown tool", body(name="rm_rf"), 404, "unknown_tool", "name"),
    ("extra argument", body(expression="1", shell="ls"), 400, "invalid_argument", "shell"),
    ("missing argument", body(name="search", top_k=3), 400, "invalid_argument", "query"),
    ("wrong type", body(name="search", query=5), 400, "invalid_argument", "query"),
    ("out of range", body(name="search", query="x", top_k=999), 400, "invalid_argument", "top_k"),
    ("code in calculator", body(expression="__import__('os')"), 400, "invalid_argument", None),
    ("dot-dot", body(name="read_file", path="../../etc/passwd"), 400, "invalid_path", "path"),
    ("absolute", body(name="read_file", path="/etc/passwd"), 400, "invalid_path", "path"),
    ("url-encoded", body(name="read_file", path="reports/%2e%2e/x"), 400, "invalid_path", "path"),
    ("nul byte", body(name="read_file", path=f"{REPORT}\x00.md"), 400, "invalid_path", "path"),
    ("backslash", body(name="read_file", path="reports\\..\\x"), 400, "invalid_path", "path"),
    ("symlink", body(name="read_file", path="reports/link.md"), 404, "not_found", "path"),
    ("missing file", body(name="read_file", path="reports/none.md"), 404, "not_found", "path"),
    ("list outside", body(name="list_files", directory=".."), 400, "invalid_path", "directory"),
    ("arguments not json", {**body(), "arguments": "{oops"}, 400, "invalid_arguments", None),
    ("arguments a list", {**body(), "arguments": "[1]"}, 400, "invalid_arguments", None),
    ("arguments a number", {**body(), "arguments": 7}, 400, "invalid_arguments", None),
    ("no trace_id", {k: v for k, v in body().items() if k != "trace_id"}, 422, None, "trace_id"),
    ("empty trace_id", {**body(), "trace_id": ""}, 422, "invalid_request", "trace_id"),
    ("long trace_id", {**body(), "trace_id": "t" * 300}, 422, "invalid_request", "trace_id"),
    ("no call_id", {k: v for k, v in body().items() if k != "call_id"}, 422, None, "call_id"),
    ("wrong type field", {**body(), "type": "message"}, 422, "invalid_request", "type"),
    ("body not json", b"{not json", 422, "invalid_request", None),
    ("body a list", b"[1, 2]", 422, "invalid_request", None),
    ("empty body", b"", 422, "invalid_request", None),
    # Issue 15: hostile JSON is a 4xx the model (or the trainer) can act on, never a 500.
    ("arguments 1000 deep", {**body(), "arguments": DEEP_ARGS}, 400, "invalid_arguments", ARGS),
    ("arguments 5000 [", {**body(), "arguments": "[" * 5000}, 400, "invalid_arguments", ARGS),
    ("arguments 100-deep object", {**body(), "arguments": _deep(100)}, 400, None, ARGS),
    ("arguments NaN", {**body(), "arguments": '{"expression": NaN}'}, 400, None, ARGS),
    ("arguments twice", {**body(), "arguments": '{"expression": "1", "expression": "2"}'}, 400,
     None, ARGS),
    ("arguments surrogate", {**body(), "arguments": '{"expression": "\\ud800"}'}, 400, None,
     ARGS),
    ("arguments 5000 digits", {**body(), "arguments": '{"x": ' + "9" * 5000 + "}"}, 400, None,
     ARGS),
    ("body 1000 deep", _raw_call(arguments="{" + '"a":{' * 1000 + "}" * 1001), 422,
     "invalid_request", None),
    ("item 1000 deep", _raw_call(item="[" * 1000 + "]" * 1000), 422, "invalid_request", None),
    ("body not utf-8", _raw_call(call_id='"X"').replace(b'"X"', b'"\xff"'), 422,
     "invalid_request", None),
    ("body surrogate", _raw_call(call_id='"\\udc00"'), 422, "invalid_request", None),
    ("body whitespace", b" \n\t ", 422, "invalid_request", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_body", "status", "code", "param"),
    [case[1:] for case in CATALOGUE],
    ids=[case[0] for case in CATALOGUE],
)
def test_hostile_input_gets_its_documented_status_and_body(
    client, request_body, status, code, param
):
    if isinstance(request_body, bytes):
        response = client.post(
            "/call", content=request_body, headers={"Content-Type": "application/json"}
        )
    else:
        response = client.post("/call", json=request_body)
    assert response.status_code == status, response.text
    error = error_of(response)
    if code:
        assert error["code"] == code
    if param:
        assert error["param"] == param
    assert error["message"] and error["retryable"] is False
    assert "outside the corpus" not in response.text


def test_the_token_is_in_no_repr_of_the_app(corpus):
    app = create_app(corpus, token=TOKEN)
    app.build_middleware_stack()
    shown = repr(app.user_middleware) + repr(app.middleware_stack) + repr(vars(app.state))
    assert TOKEN not in shown and "**********" in repr(app.user_middleware)


@pytest.mark.parametrize("route", ["/tools/%2e%2e%2fread_file", "/tools/..", "/tools/a%00b"])
def test_hostile_tool_urls_are_refused(client, route):
    response = client.post(route, json=body(name="read_file", path=REPORT))
    assert response.status_code in (400, 404)
    assert error_of(response)["code"] in ("unknown_tool", "name_mismatch", "not_found")


def test_a_hostile_trace_id_stays_one_log_line(client, caplog):
    trace = 'trace_x\n{"status": 200}'
    with caplog.at_level(logging.INFO, logger="tools_service.access"):
        assert client.post("/call", json=body(trace_id=trace)).status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if r.name == "tools_service.access"]
    assert "\n" not in line and json.loads(line)["trace_id"] == trace


def test_unknown_tool_lists_the_tools(client):
    error = error_of(client.post("/call", json=body(name="rm_rf")))
    assert "search, list_files, read_file, calculator" in error["message"]
    assert client.post("/tools/rm_rf", json=body(name="rm_rf")).status_code == 404


def test_a_tool_url_refuses_a_call_for_another_tool(client):
    response = client.post("/tools/search", json=body(name="calculator"))
    assert response.status_code == 400 and error_of(response)["code"] == "name_mismatch"


@pytest.mark.parametrize("streamed", [False, True])
def test_bodies_over_one_megabyte_get_413(client, streamed):
    request = body(name="search", query="x" * 1_000_100)
    data = json.dumps(request).encode()
    content = (data[i : i + 65536] for i in range(0, len(data), 65536)) if streamed else data
    response = client.post("/call", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_body_just_under_the_limit_is_read(client):
    request = body(expression="1")
    request["item"] = {"pad": "x" * 990_000}
    assert client.post("/call", json=request).status_code == 200


def test_large_outputs_are_truncated_with_a_visible_marker(corpus):
    text = "é\n" * 5000
    short = truncate_output(text, max_bytes=2000)
    assert len(json.dumps(short, ensure_ascii=False).encode()) <= 2000
    assert short.startswith("é\n") and "[output truncated by the tool service" in short
    assert truncate_output("fits", max_bytes=2000) == "fits"
    app = create_app(corpus, token=TOKEN, max_output_bytes=150)
    with serve_in_background(app) as base:
        response = httpx.post(
            f"{base}/call",
            headers=AUTH,
            json=body(name="read_file", path=REPORT),
        )
    output = response.json()["output"]
    assert response.status_code == 200
    assert len(json.dumps(output).encode()) <= 150 and "output truncated" in output


def test_state_is_per_rollout_and_replays_do_not_repeat_side_effects(client):
    trace = "trace_budget"
    first = body(name="read_file", trace_id=trace, path=REPORT)
    outputs = [client.post("/call", json=first).json() for _ in range(3)]
    assert outputs[0] == outputs[1] == outputs[2]
    log = client.get(f"/traces/{trace}").json()
    assert [c["replayed"] for c in log["calls"]] == [False, True, True]
    assert log["state"] == {"reads": [REPORT]}
    for _ in range(READ_BUDGET - 1):
        assert client.post("/call", json=body("read_file", trace, path=REPORT)).status_code == 200
    refused = client.post("/call", json=body("read_file", trace, path=REPORT))
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "read_budget_exhausted"
    # Another rollout has its own budget; a replayed refusal is refused the same way.
    assert client.post("/call", json=body("read_file", path=REPORT)).status_code == 200
    again = client.post("/call", json=json.loads(refused.request.content))
    assert again.status_code == 400 and again.json() == refused.json()


def test_a_reused_call_id_for_a_different_call_is_refused(client):
    trace = "trace_reuse"
    client.post("/call", json=body(trace_id=trace, call_id="call_same", expression="1"))
    response = client.post("/call", json=body(trace_id=trace, call_id="call_same", expression="2"))
    assert response.status_code == 409 and error_of(response)["code"] == "call_id_reused"


def test_trace_log_is_what_a_trajectory_grader_reads(client):
    trace = "trace_log"
    client.post("/call", json=body("search", trace, query="beltas revenue", top_k=2))
    client.post("/call", json=body("calculator", trace, expression="1 / 0"))
    calls = client.get(f"/traces/{trace}").json()["calls"]
    assert [(c["tool"], c["status"]) for c in calls] == [("search", 200), ("calculator", 400)]
    assert calls[0]["arguments"] == {"query": "beltas revenue", "top_k": 2}
    assert all(c["latency_ms"] >= 0 for c in calls)
    missing = client.get("/traces/trace_never_seen")
    assert missing.status_code == 404 and error_of(missing)["code"] == "unknown_trace"


def test_probing_unknown_trace_ids_leaves_nothing_behind(corpus):
    store = InMemoryStateStore()
    app = create_app(corpus, token=TOKEN, store=store)
    with serve_in_background(app) as base, httpx.Client(base_url=base, headers=AUTH) as http:
        for n in range(200):
            assert http.get(f"/traces/trace_probe_{n}").status_code == 404
        assert http.post("/call", json=body(trace_id="trace_real")).status_code == 200
        assert http.get("/traces/trace_real").status_code == 200
    assert set(store._locks) <= {"trace_real"} and len(store) == 1


def test_locks_of_ids_that_never_got_a_record_are_swept(corpus):
    now = [0.0]
    store = InMemoryStateStore(ttl_seconds=60, clock=lambda: now[0])

    async def take_locks():
        for n in range(50):
            async with store.lock(f"trace_{n}"):
                pass
        now[0] = 61.0
        await store.load("trace_live")  # any load sweeps

    asyncio.run(take_locks())
    assert set(store._locks) == set()


def _counting_toolbox():
    """A toolbox whose one tool increments a per-rollout counter, slowly enough to interleave."""
    box = Toolbox()

    @box.tool
    def bump(ctx: ToolContext) -> str:
        """Add one to this rollout's counter and return it."""
        value = ctx.state.get("count", 0)
        time.sleep(0.002)  # without the per-trace lock, parallel calls would interleave here
        ctx.state["count"] = value + 1
        return str(value + 1)

    return box


async def _parallel_calls(base: str, trace_ids: list[str], per_trace: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as http:
        requests = [
            http.post("/call", json={**body("bump", trace), "arguments": "{}"})
            for trace in trace_ids
            for _ in range(per_trace)
        ]
        return await asyncio.gather(*requests)


def test_parallel_calls_of_one_rollout_are_serialised_and_rollouts_isolated(corpus):
    store = InMemoryStateStore()
    app = create_app(corpus, token=TOKEN, store=store, toolbox=_counting_toolbox())
    traces = [f"trace_par{i}" for i in range(5)]
    with serve_in_background(app) as base:
        responses = asyncio.run(_parallel_calls(base, traces, per_trace=8))
        assert {r.status_code for r in responses} == {200}
        for trace in traces:
            state = httpx.get(f"{base}/traces/{trace}", headers=AUTH).json()["state"]
            assert state == {"count": 8}
    outputs = sorted(int(r.json()["output"]) for r in responses)
    assert outputs == sorted(list(range(1, 9)) * 5)


def test_state_expires_after_its_ttl(corpus):
    now = [0.0]
    store = InMemoryStateStore(ttl_seconds=60, clock=lambda: now[0])
    app = create_app(corpus, token=TOKEN, store=store)
    with serve_in_background(app) as base, httpx.Client(base_url=base, headers=AUTH) as http:
        http.post("/call", json=body("read_file", "trace_old", path=REPORT))
        assert http.get("/traces/trace_old").status_code == 200
        now[0] = 61.0
        assert http.get("/traces/trace_old").status_code == 404
        http.post("/call", json=body(trace_id="trace_new"))  # triggers the sweep
        assert len(store) == 1


def test_a_broken_tool_is_a_500_without_internals(corpus, caplog):
    box = Toolbox()

    @box.tool
    def explode(path: str) -> str:
        """Fail like a bug would.

        Args:
            path: Anything.
        """
        raise KeyError(f"internal detail {path}")

    app = create_app(corpus, token=TOKEN, toolbox=box)
    with serve_in_background(app) as base:
        response = httpx.post(f"{base}/call", headers=AUTH, json=body("explode", path="p"))
    assert response.status_code == 500
    assert error_of(response)["code"] == "tool_failed" and not error_of(response)["retryable"]
    assert "internal detail" not in response.text


class UnreachableStore(InMemoryStateStore):
    async def load(self, trace_id):
        raise ConnectionError("modal.Dict unreachable")


def test_a_state_store_outage_is_a_retryable_503(corpus):
    app = create_app(corpus, token=TOKEN, store=UnreachableStore())
    with serve_in_background(app) as base:
        response = httpx.post(f"{base}/call", headers=AUTH, json=body())
    assert response.status_code == 503
    assert error_of(response) == {
        "code": "state_unavailable",
        "message": "the service could not reach its state store; retry the call",
        "param": None,
        "retryable": True,
    }


def test_access_log_has_one_structured_line_per_call_and_no_secrets(corpus, caplog):
    app = create_app(corpus, token=TOKEN)
    with caplog.at_level(logging.DEBUG), serve_in_background(app) as base:
        httpx.post(f"{base}/call", headers=AUTH, json=body(trace_id="trace_logged"))
        httpx.post(f"{base}/call", headers=AUTH, json=body("nope", "trace_logged"))
        httpx.post(f"{base}/call", headers={"Authorization": "Bearer leaked?"}, json=body())
    access = [r for r in caplog.records if r.name == "tools_service.access"]
    entries = [json.loads(r.getMessage()) for r in access]
    assert [(e["trace_id"], e["tool"], e["status"]) for e in entries] == [
        ("trace_logged", "calculator", 200),
        ("trace_logged", "nope", 404),
    ]
    assert all(e["latency_ms"] >= 0 and e["call_id"] for e in entries)
    everything = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert TOKEN not in everything and "leaked?" not in everything
    assert "Authorization" not in everything and "authorization" not in everything


# Property-based fuzzing over real HTTP (issue 15): whatever the body, a JSON 2xx/4xx, never 5xx.
FUZZ = settings(max_examples=80, deadline=5000, database=None)
ANSWERED = {200, 400, 404, 409, 413, 422}
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["../../etc/passwd", "reports/", REPORT, "1 / 0", "round(1e40, 10)"])
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=8,
)
ARGUMENT_NAMES = st.sampled_from(["query", "top_k", "directory", "path", "expression", "x"])
ARGUMENTS = (
    st.dictionaries(ARGUMENT_NAMES, JSON_VALUES, max_size=3)
    | st.dictionaries(ARGUMENT_NAMES, JSON_VALUES, max_size=3).map(json.dumps)
    | (st.sampled_from([65, 1000, 3000]) | st.integers(1, 3000)).map(
        lambda n: '{"a":' * n + "1" + "}" * n
    )
    | st.text(alphabet='{}[]":,0123456789aNI\\u', max_size=60)
)


@pytest.fixture(scope="module")
def fuzz_client(url):
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        yield http


@FUZZ
@given(
    name=st.sampled_from(["search", "list_files", "read_file", "calculator"]) | st.text(max_size=8),
    arguments=ARGUMENTS,
    trace_id=st.sampled_from(["trace_fuzz"]) | st.text(max_size=12),
    extra=st.dictionaries(st.sampled_from(["item", "call_id", "type", "id", "x"]), JSON_VALUES),
    route=st.sampled_from(["/call", "/tools/calculator", "/tools/search"]),
)
def test_any_call_is_answered_with_json_and_never_a_5xx(
    fuzz_client, name, arguments, trace_id, extra, route
):
    request = {**body(name=name, trace_id=trace_id), "arguments": arguments, **extra}
    response = fuzz_client.post(route, content=json.dumps(request).encode())
    _assert_answered(response)


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_raw_body_is_answered_with_json_and_never_a_5xx(fuzz_client, raw):
    _assert_answered(fuzz_client.post("/call", content=raw))


def _assert_answered(response: httpx.Response) -> None:
    assert response.status_code in ANSWERED, response.text
    assert response.headers["content-type"] == "application/json"
    if response.status_code == 200:
        FunctionCallOutput.model_validate_json(response.content)
    else:
        assert error_of(response)["message"]
