"""The local fine-tuning API against hostile callers, each attack as a test that watches it fail.

Bodies without the key are refused before they are read (the server process's memory and temp
dir are measured); URLs the outbound policy refuses never receive a connection (a loopback
listener counts them); slow graders leave other routes answering; hyperparameters, JSON depth and
concurrent jobs are bounded; URL credentials never come back.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_api_fixtures import FAST_GRPO, recorded_course_task

from benchmarks.api_hostile import free_port, repeated, status_mib, temp_bytes
from rftkit import outbound
from rftkit.api import serve_api
from rftkit.api.job_store import MAX_TRIAGE_TASKS
from rftkit.data import build_dataset
from rftkit.endpoints import check_tools
from rftkit.graders.endpoint import post_for_score
from rftkit.graders.offload import OffLoop
from rftkit.graders.result import GraderFailure
from rftkit.outbound import OutboundPolicy
from rftkit.protocol import GraderRequest, Sample

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc/<pid>/status."""
    return status_mib(pid, "VmRSS")


@contextmanager
def api_process(tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """``rftkit api serve`` as its own process (its memory is its own), with its own TMPDIR."""
    key = "rftkit-local-hostile-test-key"
    port = free_port()
    env = {
        **os.environ,
        "RFTKIT_API_KEY": key,
        "TMPDIR": str(tmp_path / "tmp"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    (tmp_path / "tmp").mkdir()
    command = [sys.executable, "-m", "rftkit", "api", "serve", "--port", str(port),
               "--data-dir", str(tmp_path / "data"), "--log-level", "warning", *args]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        yield server, base, key
    finally:
        server.terminate()
        server.wait(30)


def multipart(size_mib: int) -> tuple[dict[str, str], int, Iterator[bytes]]:
    """Headers, length and body of a form upload of a ``size_mib`` MB file."""
    boundary = "hostileboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from repeated(b'{"a": 1}\n' * (MIB // 9) + b"\n" * (MIB % 9), size_mib)
        yield tail

    length = len(head) + size_mib * MIB + len(tail)
    headers = {"content-type": f"multipart/form-data; boundary={boundary}",
               "content-length": str(length)}  # fmt: skip
    return headers, length, body()


def test_an_unauthenticated_300_mb_body_is_refused_unread(tmp_path):
    with api_process(tmp_path) as (server, base, _):
        before = rss_mib(server.pid)
        answers: list[int] = []

        def attack(kind: str) -> None:
            if kind == "json":  # chunked: no length to refuse it by
                content = repeated(b" " * MIB, 300)
                headers = {"content-type": "application/json"}
                answer = httpx.post(f"{base}/fine_tuning/jobs", content=content,
                                    headers=headers, timeout=120)  # fmt: skip
            else:
                headers, _, content = multipart(300)
                answer = httpx.post(f"{base}/files", content=content, headers=headers,
                                    timeout=120)  # fmt: skip
            answers.append(answer.status_code)
            assert "error" in answer.json()

        spooled, done = [0], threading.Event()

        def watch_tmp() -> None:
            while not done.is_set():
                spooled[0] = max(spooled[0], temp_bytes(server.pid, tmp_path / "tmp"))
                time.sleep(0.02)

        watcher = threading.Thread(target=watch_tmp)
        watcher.start()
        threads = [threading.Thread(target=attack, args=(k,)) for k in ("json", "json", "form")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        watcher.join()
        after = rss_mib(server.pid)
        assert answers == [401, 401, 401]
        assert after - before < 40, f"the server grew from {before:.0f} to {after:.0f} MB"
        assert spooled[0] == 0, f"{spooled[0]} bytes spooled to the temp dir"
        assert not list((tmp_path / "data" / "files").glob("*"))


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with serve_api(tmp_path_factory.mktemp("api")) as served:
        yield served


def post(api, path: str, body, key: str | None = "ok", **headers) -> httpx.Response:
    auth = {"Authorization": f"Bearer {api.api_key if key == 'ok' else key}"} if key else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{api.base_url}{path}", content=content, timeout=60,
                      headers={"content-type": "application/json", **auth, **headers})  # fmt: skip


def test_every_path_needs_the_key_openapi_included(api):
    root = api.base_url.removesuffix("/v1")
    for path in ("/openapi.json", "/docs", "/v1/models", "/v1/nowhere"):
        answer = httpx.get(f"{root}{path}")
        assert answer.status_code == 401, path
        assert answer.json()["error"]["message"].startswith("You didn't provide an API key")
    keyed = httpx.get(f"{root}/openapi.json", headers={"Authorization": f"Bearer {api.api_key}"})
    assert keyed.status_code == 200 and "/v1/files" in keyed.json()["paths"]


def test_an_authenticated_body_over_its_routes_limit_is_a_413(api):
    declared = httpx.post(
        f"{api.base_url}/fine_tuning/jobs",
        content=repeated(b" " * MIB, 2),
        headers={"Authorization": f"Bearer {api.api_key}", "content-length": str(2 * MIB)},
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "request_too_large"
    chunked = httpx.post(
        f"{api.base_url}/fine_tuning/alpha/graders/validate",
        content=repeated(b" " * 65536, 40),
        headers={"Authorization": f"Bearer {api.api_key}", "content-type": "application/json"},
    )
    assert chunked.status_code == 413
    upload_in_chunks = httpx.post(
        f"{api.base_url}/fine_tuning/alpha/graders/validate",
        content=repeated(b" " * 65536, 40),
        headers={"Authorization": f"Bearer {api.api_key}", "content-type": "text/plain"},
    )
    assert upload_in_chunks.status_code == 413


def test_json_nested_900_deep_is_a_400_without_a_traceback(api, caplog):
    deep = b"[" * 900 + b"]" * 900
    body = b'{"grader": {"type": "string_check", "x": ' + deep + b"}}"
    with caplog.at_level("DEBUG"):
        for path, kind in (("/fine_tuning/jobs", "application/json"),
                           ("/fine_tuning/alpha/graders/validate", "application/vnd.x+json"),
                           ("/responses", "application/json; charset=utf-8")):  # fmt: skip
            answer = post(api, path, body, **{"content-type": kind})
            assert answer.status_code == 400, path
            assert answer.json()["error"]["code"] == "json_too_deep"
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


class Listener:
    """Loopback HTTP listeners on 127.0.0.1 and 127.0.0.2 (one port), counting every request.

    ``/grade`` answers a score, ``/redirect`` a 302 to ``/grade``, ``/secret`` a 404 whose body
    holds a secret (as an internal admin page might)."""

    SECRET = "internal-page-secret-7f3a"

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.servers = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.partition("?")[0]
                owner.hits.append(path)
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("location", f"http://127.0.0.1:{owner.port}/grade")
                    body = b""
                elif path == "/secret":
                    self.send_response(404)
                    body = owner.SECRET.encode()
                else:
                    self.send_response(500 if path == "/broken" else 200)
                    body = json.dumps({"score": 1.0}).encode()
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        first = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = first.server_address[1]
        self.servers = [first, ThreadingHTTPServer(("127.0.0.2", self.port), Handler)]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def listener():
    served = Listener()
    yield served
    served.close()


SPELLINGS = ("127.0.0.1", "127.0.0.2", "0x7f.1", "[::ffff:127.0.0.1]", "localhost", "2130706433")


def endpoint(url: str) -> dict:
    return {"type": "endpoint", "name": "probe", "url": url,
            "headers": {"Authorization": "Bearer tool-secret-value"}}  # fmt: skip


def test_readiness_checks_under_the_policy_call_no_refused_spelling(listener):
    """``check_tools`` takes the same policy: a refused tool is a blocker and gets no request."""
    policy = OutboundPolicy.for_server(allow_remote=True)
    for host in SPELLINGS:
        tools = [{"name": "search", "server_url": f"http://{host}:{listener.port}/call",
                  "headers": {"Authorization": "Bearer tool-secret-value"}}]  # fmt: skip
        report = check_tools(tools, examples={"search": {"query": "x"}}, rollouts=5,
                             policy=policy)  # fmt: skip
        assert not report.ready and "refused by the outbound policy" in report.text(), host
        assert "tool-secret-value" not in report.text()
    assert listener.hits == []


@pytest.fixture(scope="module")
def remote_api(tmp_path_factory):
    """The API as ``--allow-remote`` makes it: no loopback or private URLs unless allowed."""
    with serve_api(tmp_path_factory.mktemp("remote"),
                   outbound=OutboundPolicy.for_server(allow_remote=True)) as served:  # fmt: skip
        yield served


def test_an_exposed_server_calls_no_loopback_spelling_nor_metadata(remote_api, listener):
    for host in SPELLINGS:
        url = f"http://{host}:{listener.port}/grade"
        graded = post(remote_api, "/fine_tuning/alpha/graders/run",
                      {"grader": endpoint(url), "model_sample": "x"})  # fmt: skip
        assert graded.status_code == 400, host
        assert graded.json()["error"]["code"] == "url_not_allowed"
        job = post(remote_api, "/fine_tuning/jobs", {
            "model": "rftkit-tinylm-base", "training_file": "file-x", "validation_file": "file-y",
            "method": {"type": "reinforcement", "reinforcement": {
                "grader": {"type": "string_check", "name": "g", "operation": "eq",
                           "input": "a", "reference": "a"},
                "tools": [{"name": "calculator", "server_url": url}]}}})  # fmt: skip
        assert job.status_code == 400, host
        assert job.json()["error"]["param"] == "method.reinforcement.tools[0].server_url"
    metadata = post(remote_api, "/fine_tuning/alpha/graders/run",
                    {"grader": endpoint("http://169.254.169.254/latest/meta-data"),
                     "model_sample": "x"})  # fmt: skip
    assert metadata.status_code == 400
    assert listener.hits == []


def test_a_rehearsal_server_calls_loopback_but_never_metadata(api, listener):
    graded = post(api, "/fine_tuning/alpha/graders/run",
                  {"grader": endpoint(f"http://127.0.0.2:{listener.port}/grade"),
                   "model_sample": "x"})  # fmt: skip
    assert graded.status_code == 200 and graded.json()["reward"] == 1.0
    for url in ("http://169.254.169.254/", "http://[fe80::1]/", "http://0.0.0.0/"):
        refused = post(api, "/fine_tuning/alpha/graders/run",
                       {"grader": endpoint(url), "model_sample": "x"})  # fmt: skip
        assert refused.status_code == 400, url
    assert listener.hits == ["/grade"]


def test_allow_url_opens_one_origin_only(tmp_path, listener):
    allowed = f"http://127.0.0.1:{listener.port}"
    policy = OutboundPolicy.for_server(allow_remote=True, allow_urls=[allowed])
    with serve_api(tmp_path, outbound=policy) as exposed:
        ok = post(exposed, "/fine_tuning/alpha/graders/run",
                  {"grader": endpoint(f"{allowed}/grade"), "model_sample": "x"})  # fmt: skip
        other = post(exposed, "/fine_tuning/alpha/graders/run",
                     {"grader": endpoint(f"http://127.0.0.2:{listener.port}/grade"),
                      "model_sample": "x"})  # fmt: skip
    assert ok.json()["reward"] == 1.0 and other.status_code == 400
    assert listener.hits == ["/grade"]


def test_the_connect_time_check_stops_dns_rebinding(monkeypatch, listener):
    """The name resolves to a public address when checked, to loopback when connecting."""
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *args, **kwargs):
        if host in ("rebind.test", b"rebind.test"):
            address = next(answers, "127.0.0.1")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    policy = OutboundPolicy.for_server(allow_remote=True)
    url = f"http://rebind.test:{listener.port}/grade"
    policy.check_url(url)  # the first answer is public: the up-front check passes

    async def grade() -> float:
        with outbound.applying(policy):
            return await post_for_score(url, GraderRequest(sample=Sample(), item={},
                                                           trace_id="trace_rebind"))  # fmt: skip

    with pytest.raises(GraderFailure, match="loopback or private"):
        asyncio.run(grade())
    assert listener.hits == []


def test_redirects_are_not_followed_and_error_bodies_not_echoed(api, listener):
    def run(path: str) -> dict:
        url = f"http://user:hunter2@127.0.0.1:{listener.port}{path}?api_key=qsecret&top=1"
        return post(api, "/fine_tuning/alpha/graders/run",
                    {"grader": endpoint(url), "model_sample": "x"}).json()  # fmt: skip

    redirected, secret, broken = run("/redirect"), run("/secret"), run("/broken")
    assert "redirects are not followed" in redirected["metadata"]["error_details"][0]
    assert listener.hits.count("/grade") == 0  # the redirect's target was never asked
    shown = json.dumps([redirected, secret, broken])
    assert "HTTP 404" in shown and Listener.SECRET not in shown
    assert "hunter2" not in shown and "qsecret" not in shown and "top=1" in shown


def test_models_answer_while_a_worst_case_grader_runs(tmp_path):
    """rouge_l on a 173 KB answer once stalled every route for 33 s; now it runs in a child that
    is stopped at its deadline (3 s here) while /v1/models keeps answering."""
    answer_text = " ".join(f"w{i % 5000}" for i in range(30_000))
    reference = " ".join(f"w{i % 3000}" for i in range(2_000))
    grader = {"type": "text_similarity", "name": "rouge", "evaluation_metric": "rouge_l",
              "input": "{{sample.output_text}}", "reference": "{{item.reference}}"}  # fmt: skip
    with serve_api(tmp_path) as served:
        state = served.app.state.rftkit
        state.off_loop.close()
        state.off_loop = OffLoop(deadline_s=3)
        graded: dict = {}
        grading = threading.Thread(target=lambda: graded.update(post(
            served, "/fine_tuning/alpha/graders/run",
            {"grader": grader, "model_sample": answer_text, "item": {"reference": reference}},
        ).json()))  # fmt: skip
        latencies = []
        with httpx.Client(headers={"Authorization": f"Bearer {served.api_key}"}) as client:
            client.get(f"{served.base_url}/models")  # connect once
            grading.start()
            time.sleep(0.3)
            while grading.is_alive():
                started = time.perf_counter()
                assert client.get(f"{served.base_url}/models").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)
        grading.join()
    assert "longer than 3 s" in graded["metadata"]["error_details"][0]
    assert len(latencies) >= 20
    # Generous bounds for a shared machine; benchmarks/api_hostile.py measures the real figures.
    assert sorted(latencies)[len(latencies) // 2] < 0.1 and max(latencies) < 1.0, latencies


@pytest.mark.parametrize(
    ("name", "raw"),
    [("n_epochs", "1e12"), ("n_epochs", "1" + "0" * 400), ("compute_multiplier", "1e6"),
     ("batch_size", "1000000000"), ("n_epochs", "0"), ("n_epochs", "2.5"),
     ("eval_samples", "1e400"), ("learning_rate_multiplier", "true")],
)  # fmt: skip
def test_hyperparameters_outside_their_ranges_are_a_400(api, name, raw):
    grader = {"type": "string_check", "name": "g", "operation": "eq", "input": "a",
              "reference": "a"}  # fmt: skip
    job = {"model": "rftkit-tinylm-base", "training_file": "file-x", "validation_file": "file-y",
           "method": {"type": "reinforcement", "reinforcement": {
               "grader": grader, "hyperparameters": {name: "RAW"}}}}  # fmt: skip
    body = json.dumps(job).replace('"RAW"', raw).encode()  # a number json.dumps cannot write
    answer = post(api, "/fine_tuning/jobs", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == f"method.reinforcement.hyperparameters.{name}"


def test_graders_validate_masks_header_values(api):
    grader = {"type": "multi", "calculate_output": "a", "graders": {"a": endpoint(
        "http://127.0.0.1:9/grade")}}  # fmt: skip
    answer = post(api, "/fine_tuning/alpha/graders/validate", {"grader": grader})
    assert answer.status_code == 200
    assert "tool-secret-value" not in answer.text
    assert answer.json()["grader"]["graders"]["a"]["headers"] == {"Authorization": "**********"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
ROUTES = ("/fine_tuning/jobs", "/fine_tuning/alpha/graders/validate",
          "/fine_tuning/alpha/graders/run", "/responses", "/chat/completions")  # fmt: skip
FIELDS = st.fixed_dictionaries({}, optional={
    "model": st.sampled_from(["rftkit-tinylm-base", "ft:nothing", "o4-mini"]) | JSON,
    "grader": st.fixed_dictionaries({"type": st.sampled_from(
        ["string_check", "text_similarity", "multi", "endpoint", "python"])}) | JSON,
    "model_sample": st.text(max_size=30) | JSON, "item": JSON, "method": JSON,
    "training_file": JSON, "input": JSON, "messages": JSON, "temperature": JSON,
    "top_p": JSON,
})  # fmt: skip


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(route=st.sampled_from(ROUTES), body=FIELDS | JSON)
def test_any_json_on_any_route_is_answered_never_a_500(api, route, body):
    answer = post(api, route, body)
    assert answer.status_code in (200, 400, 404), (answer.status_code, answer.text)
    assert set(answer.json()) != {"error"} or answer.json()["error"]["message"]


def test_jobs_beyond_the_cap_queue_and_their_urls_come_back_masked(tmp_path):
    with (
        recorded_course_task(tmp_path / "task") as course,
        serve_api(tmp_path / "api", grpo=FAST_GRPO, max_running_jobs=1) as served,
    ):
        client = openai.OpenAI(base_url=served.base_url, api_key=served.api_key, max_retries=0)
        task = course.task
        train = client.files.create(file=task.path("train").open("rb"), purpose="fine-tune")
        valid = client.files.create(file=task.path("validation").open("rb"), purpose="fine-tune")

        def create(secret_url) -> str:
            method = task.reinforcement_method(course.env)
            for tool in method["reinforcement"]["tools"]:
                tool["server_url"] = secret_url(tool["server_url"])
            job = client.fine_tuning.jobs.create(model=task.model, training_file=train.id,
                                                 validation_file=valid.id,
                                                 extra_body={"method": method})  # fmt: skip
            return job.id

        first = create(lambda url: f"{url}?api_key=qsecret-1&top=2")
        second = create(lambda url: url.replace("http://", "http://user:hunter2@"))
        assert status(client, first) == "running"
        time.sleep(1.0)
        assert status(client, second) == "queued"  # the cap holds it back
        client.fine_tuning.jobs.cancel(first)
        deadline = time.monotonic() + 180
        while status(client, second) == "queued":
            assert time.monotonic() < deadline, "the queued job never started"
            time.sleep(0.5)
        shown = json.dumps([
            client.fine_tuning.jobs.with_raw_response.list().http_response.json(),
            *(client.fine_tuning.jobs.with_raw_response.retrieve(j).http_response.json()
              for j in (first, second)),
            *(client.fine_tuning.jobs.with_raw_response.list_events(j, limit=100)
              .http_response.json() for j in (first, second)),
        ])  # fmt: skip
        client.fine_tuning.jobs.cancel(second)
        for job_id in (first, second):
            while status(client, job_id) not in ("cancelled", "failed", "succeeded"):
                assert time.monotonic() < deadline + 120, f"{job_id} never ended"
                time.sleep(0.5)
    assert "qsecret-1" not in shown and "hunter2" not in shown
    assert "api_key=**********&top=2" in shown and "://**********@127.0.0.1" in shown


def test_a_resumed_job_waits_for_a_free_slot_too_and_triage_is_bounded(tmp_path):
    """The cap held for new jobs only: a resumed job started at once beside a running one. And
    triage tried every training line, however many the caller uploaded."""
    with (
        recorded_course_task(tmp_path / "task") as course,
        serve_api(tmp_path / "api", grpo=FAST_GRPO, max_running_jobs=1) as served,
    ):
        client = openai.OpenAI(base_url=served.base_url, api_key=served.api_key, max_retries=0)
        task = course.task
        files = [client.files.create(file=task.path(s).open("rb"), purpose="fine-tune").id
                 for s in ("train", "validation")]  # fmt: skip

        def create() -> str:
            return client.fine_tuning.jobs.create(
                model=task.model, training_file=files[0], validation_file=files[1],
                extra_body={"method": task.reinforcement_method(course.env)}).id  # fmt: skip

        def wait_for(job_id: str, wanted: str) -> None:
            deadline = time.monotonic() + 180
            while status(client, job_id) != wanted:
                assert time.monotonic() < deadline, f"{job_id} never became {wanted}"
                time.sleep(0.3)

        first = create()
        trainer = served.app.state.rftkit.jobs.get(first).job.trainer
        assert trainer.config.triage_tasks == MAX_TRIAGE_TASKS  # a caller's file cannot widen it
        client.fine_tuning.jobs.pause(first)
        wait_for(first, "paused")
        second = create()  # the paused job holds no slot: this one starts
        wait_for(second, "running")
        client.fine_tuning.jobs.resume(first)
        time.sleep(1.0)
        assert status(client, first) == "paused"  # it waits while the second trains
        events = client.fine_tuning.jobs.list_events(first, limit=100).data
        assert any("waiting for a free slot" in e.message for e in events)
        client.fine_tuning.jobs.cancel(second)
        wait_for(first, "running")  # the freed slot goes to the resumed job
        client.fine_tuning.jobs.cancel(first)
        for job_id in (first, second):
            assert status(client, job_id) == "cancelled"


def status(client: openai.OpenAI, job_id: str) -> str:
    return client.fine_tuning.jobs.with_raw_response.retrieve(job_id).http_response.json()["status"]


SPIN = "import time\ndef grade(sample, item):\n    end = time.time() + 8\n    while time.time() < end:\n        pass\n    return 0.0\n"  # noqa: E501
QUICK = "def grade(sample, item):\n    return 1.0\n"


def test_a_quick_python_grader_is_not_queued_behind_six_spinning_ones(api):
    """Six graders spinning 8 s once took every thread of the event loop's default pool, so a
    trivial one waited for them; the server's own grading pool has room beside them."""

    def run(source: str) -> dict:
        grader = {"type": "python", "name": "p", "source": source}
        return post(
            api, "/fine_tuning/alpha/graders/run", {"grader": grader, "model_sample": "x"}
        ).json()

    post(
        api,
        "/fine_tuning/alpha/graders/run",
        {"grader": {"type": "python", "name": "w", "source": QUICK}, "model_sample": "x"},
    )  # warm the sandbox
    spinners = [threading.Thread(target=run, args=(SPIN,)) for _ in range(6)]
    for spinner in spinners:
        spinner.start()
    time.sleep(1.0)
    started = time.perf_counter()
    quick = run(QUICK)
    waited = time.perf_counter() - started
    for spinner in spinners:
        spinner.join()
    assert quick["reward"] == 1.0
    assert waited < 5.0, f"the quick grader waited {waited:.1f} s"


def test_models_answer_while_a_large_upload_is_checked(api):
    """A valid upload's check once ran inside the async route: the loop stopped for all of it."""
    line = json.dumps(build_dataset([{"question": "status of order 1?", "answer": "shipped"}])[0])
    data = "".join(line.replace("order 1?", f"order {n}?") + "\n" for n in range(80_000)).encode()
    auth = {"Authorization": f"Bearer {api.api_key}"}
    uploaded: list[httpx.Response] = []
    uploading = threading.Thread(target=lambda: uploaded.append(httpx.post(
        f"{api.base_url}/files", headers=auth, files={"file": ("big.jsonl", data)},
        data={"purpose": "fine-tune"}, timeout=300)))  # fmt: skip
    latencies = []
    with httpx.Client(headers=auth) as client:
        client.get(f"{api.base_url}/models")
        uploading.start()
        time.sleep(0.3)
        while uploading.is_alive():
            started = time.perf_counter()
            assert client.get(f"{api.base_url}/models").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    assert uploaded[0].status_code == 200 and uploaded[0].json()["bytes"] == len(data)
    assert len(latencies) >= 10
    assert sorted(latencies)[len(latencies) // 2] < 0.1 and max(latencies) < 1.0, latencies


def test_a_jobs_rollouts_check_each_connection_too(tmp_path, monkeypatch):
    """The tool URL's name resolves to a public address when the job is created and to loopback
    afterwards (DNS rebinding): the job's rollouts, in its own thread, refuse to connect."""
    real = socket.getaddrinfo
    public: list[str] = []  # one public answer per check at create, loopback after them

    def rebinding(host, port, *args, **kwargs):
        if host in ("rebind.test", b"rebind.test"):
            address = public.pop() if public else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    policy = OutboundPolicy.for_server(allow_remote=True)
    with (
        recorded_course_task(tmp_path / "task") as course,
        serve_api(tmp_path / "api", grpo=FAST_GRPO, outbound=policy) as served,
    ):
        client = openai.OpenAI(base_url=served.base_url, api_key=served.api_key, max_retries=0)
        task = course.task
        train = client.files.create(file=task.path("train").open("rb"), purpose="fine-tune")
        valid = client.files.create(file=task.path("validation").open("rb"), purpose="fine-tune")
        method = task.reinforcement_method(course.env)
        port = httpx.URL(method["reinforcement"]["tools"][0]["server_url"]).port
        for tool in method["reinforcement"]["tools"]:
            tool["server_url"] = f"http://rebind.test:{port}/call"
            public.append("93.184.216.34")
        job = client.fine_tuning.jobs.create(model=task.model, training_file=train.id,
                                             validation_file=valid.id,
                                             extra_body={"method": method})  # fmt: skip
        deadline = time.monotonic() + 240
        while status(client, job.id) not in ("failed", "succeeded", "cancelled"):
            assert time.monotonic() < deadline, "the job never ended"
            time.sleep(0.5)
        ended = status(client, job.id)
    assert ended == "failed"
    assert len(course.store) == 0  # not one call reached the tool service
