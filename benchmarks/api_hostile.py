"""Benchmark: the local fine-tuning API under the attacks of issue 32, on any checkout.

Starts ``rftkit api serve`` from the source tree ``--src`` (default: this one) as its own process
and measures three things:

1. memory and temp-dir use while three unauthenticated 300 MB bodies arrive at once (two chunked
   JSON posts to ``/v1/fine_tuning/jobs``, one multipart upload to ``/v1/files``): the server's
   VmRSS before and after and its peak (VmHWM), the largest size its TMPDIR reached meanwhile;
2. requests that reach a loopback listener when ``graders/run`` names it as an ``endpoint``
   grader in four spellings (``127.0.0.1``, ``127.0.0.2``, ``0x7f.1``, ``[::ffff:127.0.0.1]``),
   on a server started with ``--allow-remote``;
3. the time ``GET /v1/models`` takes while a ``rouge_l`` grader scores a 173 KB answer against a
   2,000-word reference (sequential requests, one every 50 ms, until the grader answers);
4. the same while a valid ``--upload-mb`` MB training file is uploaded and checked.

Run it on two checkouts to compare (the machine is shared: timings vary with its load):

    PYTHONPATH=$PWD python benchmarks/api_hostile.py --src /path/to/old/checkout
    PYTHONPATH=$PWD python benchmarks/api_hostile.py
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

MIB = 1024 * 1024
KEY = "rftkit-local-benchmark-key"


def status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def temp_bytes(pid: int, tmp: Path) -> int:
    """Bytes in files under ``tmp``, including the unnamed (O_TMPFILE) ones the process holds
    open: a spooled upload has no name, only a file descriptor."""
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


def start_server(src: Path, root: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RFTKIT_API_KEY": KEY, "TMPDIR": str(root / "tmp"), "PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "rftkit", "api", "serve", "--port", str(port),
               "--data-dir", str(root / "data"), "--log-level", "error", *args]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=src)
    base = f"http://127.0.0.1:{port}/v1"
    while True:
        try:
            httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2)
            return server, base
        except httpx.TransportError:
            if server.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


def repeated(chunk: bytes, count: int) -> Iterator[bytes]:
    """``count`` times the same chunk: a huge body never held in memory."""
    for _ in range(count):
        yield chunk


def attack_memory(src: Path, root: Path) -> None:
    server, base = start_server(src, root / "memory")
    tmp = root / "memory" / "tmp"
    try:
        before = status_mib(server.pid, "VmRSS")
        peak_tmp, done = 0, threading.Event()

        def watch_tmp() -> None:
            nonlocal peak_tmp
            while not done.is_set():
                peak_tmp = max(peak_tmp, temp_bytes(server.pid, tmp))
                time.sleep(0.05)

        def post_json() -> int:
            return httpx.post(f"{base}/fine_tuning/jobs", content=repeated(b" " * MIB, 300),
                              headers={"content-type": "application/json"},
                              timeout=300).status_code  # fmt: skip

        def post_form() -> int:
            boundary = "b0undary"
            head = (f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
                    f'fine-tune\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                    'filename="x.jsonl"\r\n\r\n').encode()  # fmt: skip
            tail = f"\r\n--{boundary}--\r\n".encode()

            def body() -> Iterator[bytes]:
                yield head
                yield from repeated(b"x" * MIB, 300)
                yield tail

            headers = {"content-type": f"multipart/form-data; boundary={boundary}",
                       "content-length": str(len(head) + 300 * MIB + len(tail))}  # fmt: skip
            return httpx.post(f"{base}/files", content=body(), headers=headers,
                              timeout=300).status_code  # fmt: skip

        statuses: list[int] = []
        watcher = threading.Thread(target=watch_tmp)
        watcher.start()
        started = time.perf_counter()
        attackers = [threading.Thread(target=lambda f=f: statuses.append(f()))
                     for f in (post_json, post_json, post_form)]  # fmt: skip
        for thread in attackers:
            thread.start()
        for thread in attackers:
            thread.join()
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        after, peak = status_mib(server.pid, "VmRSS"), status_mib(server.pid, "VmHWM")
        print(f"1. three unauthenticated 300 MB bodies: statuses {sorted(statuses)} in "
              f"{seconds:.1f} s; server RSS {before:.0f} -> {after:.0f} MB (peak {peak:.0f} MB); "
              f"temp dir peak {peak_tmp / MIB:.0f} MB")  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)


class Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"score": 1.0}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def attack_outbound(src: Path, root: Path) -> None:
    listener = ThreadingHTTPServer(("0.0.0.0", 0), Counting)  # every loopback address reaches it
    port = listener.server_address[1]
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    server, base = start_server(src, root / "outbound", "--allow-remote")
    try:
        answers = []
        for host in ("127.0.0.1", "127.0.0.2", "0x7f.1", "[::ffff:127.0.0.1]"):
            grader = {"type": "endpoint", "name": "probe", "url": f"http://{host}:{port}/grade",
                      "headers": {"Authorization": "Bearer tool-secret"}}  # fmt: skip
            answer = httpx.post(f"{base}/fine_tuning/alpha/graders/run", timeout=60,
                                headers={"Authorization": f"Bearer {KEY}"},
                                json={"grader": grader, "model_sample": "x"})  # fmt: skip
            answers.append(answer.status_code)
        print(
            f"2. endpoint graders at four loopback spellings on an --allow-remote server: "
            f"answers {answers}; requests that reached the listener: {Counting.hits}"
        )
    finally:
        server.terminate()
        server.wait(30)
        listener.shutdown()


def attack_event_loop(src: Path, root: Path) -> None:
    server, base = start_server(src, root / "loop")
    auth = {"Authorization": f"Bearer {KEY}"}
    answer_text = " ".join(f"w{i % 5000}" for i in range(30_000))
    reference = " ".join(f"w{i % 3000}" for i in range(2_000))
    grader = {"type": "text_similarity", "name": "rouge", "evaluation_metric": "rouge_l",
              "input": "{{sample.output_text}}", "reference": "{{item.reference}}"}  # fmt: skip
    try:
        result: dict = {}

        def grade() -> None:
            started = time.perf_counter()
            answer = httpx.post(f"{base}/fine_tuning/alpha/graders/run", headers=auth, timeout=300,
                                json={"grader": grader, "model_sample": answer_text,
                                      "item": {"reference": reference}})  # fmt: skip
            result.update(seconds=time.perf_counter() - started, body=answer.json())

        grading = threading.Thread(target=grade)
        grading.start()
        time.sleep(0.5)
        latencies = []
        with httpx.Client(headers=auth, timeout=300) as client:  # one client: no TLS setup per get
            while grading.is_alive():
                started = time.perf_counter()
                client.get(f"{base}/models")
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.05)
        grading.join()
        body = result["body"]
        flags = [k for k, v in body.get("metadata", {}).get("errors", {}).items() if v]
        print(f"3. rouge_l on a {len(answer_text) // 1000} KB answer took "
              f"{result['seconds']:.1f} s (reward {body.get('reward')}, errors {flags}); "
              f"GET /v1/models meanwhile: {len(latencies)} requests, median "
              f"{statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms")  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)


def models_latency_during(base: str, work) -> tuple[float, list[float]]:
    """Run ``work()`` in a thread; GET /v1/models every 50 ms until it ends: its seconds and the
    latencies in ms."""
    auth = {"Authorization": f"Bearer {KEY}"}
    seconds: list[float] = []

    def timed() -> None:
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)

    worker = threading.Thread(target=timed)
    latencies = []
    with httpx.Client(headers=auth, timeout=300) as client:
        client.get(f"{base}/models")
        worker.start()
        time.sleep(0.2)
        while worker.is_alive():
            started = time.perf_counter()
            client.get(f"{base}/models")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
    worker.join()
    return seconds[0], latencies


def attack_upload(src: Path, root: Path, size_mb: int) -> None:
    from rftkit.data import build_dataset  # only here: the rest runs without rftkit imported

    line = json.dumps(build_dataset([{"question": "status of order 1?", "answer": "shipped"}])[0])
    count = size_mb * MIB // (len(line) + 1)
    data = ("".join(line.replace("order 1?", f"order {n}?") + "\n" for n in range(count))).encode()
    server, base = start_server(src, root / "upload")
    try:
        status: list[int] = []

        def upload() -> None:
            answer = httpx.post(f"{base}/files", headers={"Authorization": f"Bearer {KEY}"},
                                files={"file": ("train.jsonl", data)},
                                data={"purpose": "fine-tune"}, timeout=600)  # fmt: skip
            status.append(answer.status_code)

        seconds, latencies = models_latency_during(base, upload)
        median, longest = statistics.median(latencies), max(latencies)
        print(f"4. a valid {len(data) / MIB:.0f} MB upload ({count} lines) took {seconds:.1f} s "
              f"(status {status[0]}); GET /v1/models meanwhile: {len(latencies)} requests, "
              f"median {median:.1f} ms, max {longest:.1f} ms")  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--only", choices=("memory", "outbound", "loop", "upload"))
    parser.add_argument("--upload-mb", type=int, default=30)
    args = parser.parse_args()
    print(f"source tree: {args.src}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if args.only in (None, "memory"):
            attack_memory(args.src, root)
        if args.only in (None, "outbound"):
            attack_outbound(args.src, root)
        if args.only in (None, "loop"):
            attack_event_loop(args.src, root)
        if args.only in (None, "upload"):
            attack_upload(args.src, root, args.upload_mb)


if __name__ == "__main__":
    main()
