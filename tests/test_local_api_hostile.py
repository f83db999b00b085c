"""The local fine-tuning API against hostile callers, each attack as a test that watches it fail.

Bodies without the key are refused before they are read (the server process's memory and temp
dir are measured); URLs the outbound policy refuses never receive a connection (a loopback
listener counts them); slow graders leave other routes answering; hyperparameters, JSON depth and
concurrent jobs are bounded; URL credentials never come back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from rftkit.api import serve_api
from rftkit.outbound import OutboundPolicy

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def temp_bytes(pid: int, tmp: Path) -> int:
    """Bytes in files under ``tmp``, the unnamed (O_TMPFILE) ones the process holds open
    included: a spooled upload has no name, only a file descriptor."""
    size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(str(tmp)):
                size += os.stat(fd).st_size
        except OSError:  # closed meanwhile
            continue
    return size


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def repeated(chunk: bytes, count: int) -> Iterator[bytes]:
    """``count`` times the same chunk: a huge body the test never holds in memory."""
    for _ in range(count):
        yield chunk


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
        for path in ("/fine_tuning/jobs", "/fine_tuning/alpha/graders/validate", "/responses"):
            answer = post(api, path, body)
            assert answer.status_code == 400, path
            assert answer.json()["error"]["code"] == "json_too_deep"
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
