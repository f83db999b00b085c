"""Run a ``python`` grader's ``grade(sample, item)`` in a separate, limited process.

The service runs python graders in a sandbox: no network, 2 minutes, 2 GB, 1 GB of disk
(reference §5.3). Locally each call runs in a fresh child forked from a warm fork server
(:mod:`rftkit._grader_zygote`, with numpy and rapidfuzz already imported), so a call costs a
fork, not an interpreter start, and no call leaves state behind for the next. In the child:

- ``resource.setrlimit``: address space (memory), CPU seconds, file size, no core dumps;
- the fork server kills the child when the wall-clock limit passes;
- the working directory is a fresh temp dir, and the environment holds no secrets (the fork
  server itself is started with a filtered environment);
- a ``sys.addaudithook`` hook (which Python code cannot remove) stops the child at the first
  socket, subprocess, ``os.system``/``exec``/``fork``, ``ctypes`` call, or file write, rename or
  delete outside the temp dir, and reports it, even if the grader would have caught the error.

This stops accidents and reward-hacking graders; it is not a boundary against a determined
attacker with native code (audit hooks do not see C extensions). For untrusted graders run the
engine in a container or VM, as the service does.

Example::

    >>> run_python_grader("def grade(sample, item):\\n    return 1.0", {"output_text": "x"}, {})
    1.0
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from rftkit import _grader_zygote as _zygote
from rftkit.graders.result import GraderFailure

MAX_SOURCE_BYTES = 256_000
"""The service's limit on a python grader's source."""

_ENV_KEPT = re.compile(
    r"^(PATH|PYTHONPATH|PYTHONHASHSEED|HOME|LANG|LC_\w+|TZ|OPENBLAS_\w+|OMP_\w+)$"
)
"""Variables the fork server inherits; everything else (API keys, tokens) stays out."""

_GRACE_S = 5.0


@dataclass(frozen=True)
class SandboxLimits:
    """Per-call limits; the defaults are the service's (2 min, 2 GB, 1 GB of disk)."""

    timeout_s: float = 120.0
    memory_bytes: int = 2 * 1024**3
    disk_bytes: int = 1024**3


class PythonSandbox:
    """One warm fork server; ``run`` is safe to call from many threads at once."""

    def __init__(self, limits: SandboxLimits | None = None, max_concurrency: int | None = None):
        self.limits = limits or SandboxLimits()
        self._slots = threading.BoundedSemaphore(max_concurrency or max(1, os.cpu_count() or 1))
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._server: subprocess.Popen[bytes] | None = None

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {k: v for k, v in os.environ.items() if _ENV_KEPT.match(k)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        self._server = subprocess.Popen(
            [sys.executable, "-m", "rftkit._grader_zygote", str(theirs.fileno())],
            env=env,
            stdin=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._control = ours
        return ours

    def _send(self, task: dict[str, Any], result_fd: int) -> None:
        body = json.dumps(task).encode()
        with self._lock:
            for attempt in (1, 2):
                control = self._control if self._alive() else self._start()
                try:
                    socket.send_fds(control, [_zygote.HEADER.pack(len(body))], [result_fd])
                    control.sendall(body)
                    return
                except OSError:
                    self.close_locked()
                    if attempt == 2:
                        raise

    def _alive(self) -> bool:
        return self._server is not None and self._server.poll() is None

    def run(
        self, source: str, sample: dict, item: dict, limits: SandboxLimits | None = None
    ) -> float:
        """``grade(sample, item)`` as a float; GraderFailure when it fails or is stopped."""
        limits = limits or self.limits
        if len(source.encode()) > MAX_SOURCE_BYTES:
            raise GraderFailure(
                "python_grader_runtime_error",
                f"the source is {len(source.encode())} bytes; the limit is {MAX_SOURCE_BYTES}",
            )
        with self._slots:
            root = tempfile.mkdtemp(prefix="rftkit-grader-")
            read_fd, write_fd = os.pipe()
            try:
                task = {
                    "source": source,
                    "sample": sample,
                    "item": item,
                    "root": root,
                    "limits": asdict(limits),
                }
                started = time.monotonic()
                try:
                    self._send(task, write_fd)
                except (OSError, TypeError, ValueError) as exc:
                    raise GraderFailure("python_grader_server_error", type(exc).__name__) from None
                finally:
                    os.close(write_fd)
                raw = _read_all(read_fd, limits.timeout_s + _GRACE_S)
                elapsed = time.monotonic() - started
            finally:
                os.close(read_fd)
                shutil.rmtree(root, ignore_errors=True)
        if not raw:
            if elapsed >= limits.timeout_s:
                reason = f"TimeoutError: stopped after the {limits.timeout_s:g} s limit"
            else:
                reason = "the grader process was killed (CPU or memory limit)"
            raise GraderFailure("python_grader_runtime_error", reason)
        result = json.loads(raw)
        if result["kind"] != "ok":
            raise GraderFailure("python_grader_runtime_error", result["payload"])
        score = float(result["payload"])
        if not math.isfinite(score):
            raise GraderFailure("python_grader_runtime_error", f"grade() returned {score}")
        return score

    def close_locked(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._server.wait(timeout=5)
            if self._server.poll() is None:
                self._server.kill()
                self._server.wait()
            self._server = None

    def close(self) -> None:
        """Stop the fork server (it also stops by itself when this process exits)."""
        with self._lock:
            self.close_locked()


def _read_all(fd: int, timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b""
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return b""
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


_default: PythonSandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> PythonSandbox:
    """The process-wide sandbox (one fork server, started on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PythonSandbox()
            atexit.register(_default.close)
        return _default


def run_python_grader(
    source: str, sample: dict, item: dict, limits: SandboxLimits | None = None
) -> float:
    """Run ``source``'s ``grade`` once in the default sandbox (GraderFailure on failure)."""
    return default_sandbox().run(source, sample, item, limits)
