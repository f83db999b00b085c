"""The grader server under hostile traffic: auth on every route, bodies cut at the limit,
looping samples that do not block other requests, saturation answered with 503."""

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from rftkit.graders import server as server_module
from rftkit.graders.isolation import IsolationUnavailable
from rftkit.graders.server import create_grader_app
from rftkit.protocol import MAX_PAYLOAD_BYTES, GraderRequest, Sample
from rftkit.serving import serve_in_background

TOKEN = "server-test-token-456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOOPS_OR_SCORES = {
    "type": "python",
    "name": "loops_or_scores",
    "source": (
        "def grade(sample, item):\n    while item.get('loop'):\n        pass\n    return 1.0\n"
    ),
}
EXACT = {
    "type": "string_check",
    "name": "exact",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
}


def _request(item: dict) -> dict:
    body = GraderRequest(sample=Sample.from_text("x"), item=item, trace_id="trace_1")
    return body.model_dump(mode="json")


@pytest.fixture(scope="module")
def exact_url():
    with serve_in_background(create_grader_app(EXACT, token=TOKEN)) as base_url:
        yield base_url


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/redoc", "/nowhere"])
def test_every_route_needs_the_token(exact_url, path):
    response = httpx.get(f"{exact_url}{path}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_with_the_token_the_schema_and_health_answer(exact_url):
    assert httpx.get(f"{exact_url}/openapi.json", headers=AUTH).status_code == 200
    assert httpx.get(f"{exact_url}/healthz", headers=AUTH).json()["status"] == "ok"


def test_an_empty_token_is_refused():
    with pytest.raises(ValueError, match="token is empty"):
        create_grader_app(EXACT, token="")


def _raw_post(base_url: str, head_extra: bytes, body: bytes) -> bytes:
    """POST /grade over a raw socket, send ``body`` (a part of what the head announces) and
    nothing more; the head of the reply, which must come without the rest of the body."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=20) as conn:
        head = (
            b"POST /grade HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n" + head_extra + b"\r\n"
        )
        conn.sendall(head)
        conn.settimeout(2)
        with contextlib.suppress(OSError):  # the server may stop reading: sending stalls
            conn.sendall(body)
        conn.settimeout(20)
        return conn.recv(4096)


def test_a_declared_50_mb_body_is_refused_without_reading_it(exact_url):
    reply = _raw_post(exact_url, b"Content-Length: 50000000\r\n", b"x" * 2_000_000)
    assert reply.startswith(b"HTTP/1.1 413")


def test_a_streamed_body_is_cut_at_the_limit(exact_url):
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    reply = _raw_post(exact_url, b"Transfer-Encoding: chunked\r\n", chunk * 32)  # 2 MB, no end
    assert reply.startswith(b"HTTP/1.1 413")
    assert str(MAX_PAYLOAD_BYTES).encode() in reply


def test_python_graders_are_served_only_under_namespaces(monkeypatch):
    monkeypatch.setattr(server_module, "namespaces_unavailable", lambda: "bwrap is missing")
    with pytest.raises(IsolationUnavailable, match="bwrap is missing"):
        create_grader_app(LOOPS_OR_SCORES, token=TOKEN)
    create_grader_app(LOOPS_OR_SCORES, token=TOKEN, require_isolation=False)
    create_grader_app(EXACT, token=TOKEN)  # no code to isolate


def test_looping_samples_do_not_block_other_requests():
    app = create_grader_app(LOOPS_OR_SCORES, token=TOKEN, deadline_s=8, require_isolation=False)

    async def scenario(base_url: str):
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=60) as client:
            loops = [
                asyncio.create_task(client.post("/grade", json=_request({"loop": True})))
                for _ in range(2)
            ]
            await asyncio.sleep(1.0)  # both loops are being graded
            normal = await client.post("/grade", json=_request({}))
            loops_running = [not task.done() for task in loops]
            return normal, loops_running, await asyncio.gather(*loops)

    with serve_in_background(app) as base_url:
        normal, loops_running, looped = asyncio.run(scenario(base_url))
    assert normal.status_code == 200 and normal.json()["score"] == 1.0
    assert loops_running == [True, True]  # answered while both loops were still running
    for response in looped:
        assert response.status_code == 200
        assert response.json() == {"score": 0.0, "errors": ["python_grader_runtime_error"]}


def test_a_saturated_server_answers_503_with_retry_after():
    app = create_grader_app(
        LOOPS_OR_SCORES,
        token=TOKEN,
        deadline_s=4,
        max_concurrent=1,
        max_queued=0,
        require_isolation=False,
    )

    async def scenario(base_url: str):
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=60) as client:
            loop = asyncio.create_task(client.post("/grade", json=_request({"loop": True})))
            await asyncio.sleep(1.0)
            refused = await client.post("/grade", json=_request({}))
            return refused, await loop

    with serve_in_background(app) as base_url:
        refused, looped = asyncio.run(scenario(base_url))
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert looped.status_code == 200 and looped.json()["score"] == 0.0


def test_a_grader_that_forges_its_result_gets_zero_not_a_500():
    forger = {
        "type": "python",
        "name": "forger",
        "source": (
            "import os\n"
            "def grade(sample, item):\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            '            os.write(fd, b\'{"index": 99, "kind": "ok", "payload": 1}\\n\')\n'
            "        except OSError:\n"
            "            pass\n"
            "    os._exit(0)\n"
        ),
    }
    app = create_grader_app(forger, token=TOKEN, require_isolation=False)
    with serve_in_background(app) as base_url:
        response = httpx.post(f"{base_url}/grade", json=_request({}), headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"score": 0.0, "errors": ["python_grader_runtime_error"]}


ROUGE = {
    "type": "text_similarity",
    "name": "rouge",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference}}",
    "evaluation_metric": "rouge_l",
}


def test_cpu_bound_scoring_stops_at_the_deadline_and_never_blocks_the_loop():
    """Issue #26: ROUGE on a 100 KB answer ran inline on the event loop, 7 s past a 5 s deadline,
    and /healthz stalled meanwhile. It runs in a worker process that is killed at the deadline."""
    app = create_grader_app(ROUGE, token=TOKEN, deadline_s=2)
    words = " ".join(f"w{i % 997}" for i in range(20_000))  # ~100 KB; LCS is quadratic

    async def scenario(base_url: str):
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=60) as client:
            for _ in range(5):  # a worker is up: not timed (a loaded machine may need >2 s)
                warm = await client.post("/grade", json=_request({"reference": "x"}))
                if warm.json().get("score") == 1.0:
                    break
            assert warm.json().get("score") == 1.0, warm.text
            started = asyncio.get_running_loop().time()
            slow = asyncio.create_task(
                client.post("/grade", json=_request({"reference": words[:60_000]}) | {
                    "sample": Sample.from_text(words).model_dump(mode="json")
                })
            )
            await asyncio.sleep(0.5)
            health_started = asyncio.get_running_loop().time()
            health = await client.get("/healthz")
            health_s = asyncio.get_running_loop().time() - health_started
            slow_response = await slow
            slow_s = asyncio.get_running_loop().time() - started
            after = await client.post("/grade", json=_request({"reference": "x"}))
            return health, health_s, slow_response, slow_s, after

    with serve_in_background(app) as base_url:
        health, health_s, slow, slow_s, after = asyncio.run(scenario(base_url))
    assert health.status_code == 200 and health_s < 1.0
    assert slow.status_code == 503 and "took over 2 s" in slow.json()["detail"]
    assert 2 <= slow_s < 2 + 1.5  # the deadline, and a margin for a busy machine
    assert after.status_code == 200 and after.json()["score"] == 1.0


def _half_sent(base_url: str, count: int) -> list[socket.socket]:
    address = urlsplit(base_url)
    connections = []
    for _ in range(count):
        conn = socket.create_connection((address.hostname, address.port), timeout=10)
        conn.sendall(b"POST /grade HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        connections.append(conn)
    return connections


def test_half_sent_heads_are_closed_by_the_header_timeout(exact_url):
    """Issue #26: 1,500 connections with half-sent heads stayed open. Here 50, and a 1 s header
    timeout: the server closes every one of them (the client reads EOF)."""
    app = create_grader_app(EXACT, token=TOKEN)
    with serve_in_background(app, header_timeout_s=1.0) as base_url:
        connections = _half_sent(base_url, 50)
        try:
            closed = [conn.recv(1) == b"" for conn in connections]
        finally:
            for conn in connections:
                conn.close()
        assert httpx.get(f"{base_url}/healthz", headers=AUTH).status_code == 200
    assert all(closed)


def test_a_body_that_never_arrives_is_answered_408():
    app = create_grader_app(EXACT, token=TOKEN, body_timeout_s=1.0)
    with serve_in_background(app) as base_url:
        reply = _raw_post(base_url, b"Content-Length: 1000\r\n", b'{"sample": ')
    assert reply.startswith(b"HTTP/1.1 408")
