"""Run a ``python`` grader's ``grade(sample, item)`` in a separate, limited process.

The service runs python graders in a sandbox: no network, 2 minutes, 2 GB, 1 GB of disk
(reference §5.3). Locally each call runs in a fresh child forked from a warm fork server
(:mod:`rftkit._grader_zygote`, with numpy and rapidfuzz already imported), so a call costs a
fork, not an interpreter start, and no call leaves state behind for the next. In the child:

- ``resource.setrlimit``: address space (memory), file size, no core dumps;
- the caller kills the child (SIGKILL) when a case passes the wall-clock limit, and the fork
  server kills children that outlive a backstop or a caller that went away;
- the working directory is a fresh temp dir, and the environment holds no secrets (the fork
  server itself is started with a filtered environment);
- a ``sys.addaudithook`` hook (which Python code cannot remove) stops the child at the first
  socket, subprocess, ``os.system``/``exec``/``fork``, ``ctypes`` call, or file write, rename or
  delete outside the temp dir, and reports it, even if the grader would have caught the error.

The grader sees this environment's packages, not the service's image (``image_tag`` is accepted
and ignored; the image pins numpy, scipy, rapidfuzz, nltk, rouge-score and others, reference
§5.3). ``run_many`` grades many cases with one source in one child, each case still limited.

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
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
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
                    self._close_locked()
                    if attempt == 2:
                        raise

    def _alive(self) -> bool:
        return self._server is not None and self._server.poll() is None

    def run(
        self, source: str, sample: dict, item: dict, limits: SandboxLimits | None = None
    ) -> float:
        """``grade(sample, item)`` as a float; GraderFailure when it fails or is stopped."""
        (outcome,) = self.run_many(source, [(sample, item)], limits)
        if isinstance(outcome, GraderFailure):
            raise outcome
        return outcome

    def run_many(
        self,
        source: str,
        cases: Sequence[tuple[dict, dict]],
        limits: SandboxLimits | None = None,
    ) -> list[float | GraderFailure]:
        """Grade every ``(sample, item)`` with one source: a score or a failure per case.

        The cases run in order in one child (the source loads once), each within the time
        limit; a case that overruns, is killed or trips the guard is reported and the rest
        continue in a fresh child. Cases of one call share the child's temp dir.
        """
        limits = limits or self.limits
        size = len(source.encode())
        if size > MAX_SOURCE_BYTES:
            too_big = f"the source is {size} bytes; the limit is {MAX_SOURCE_BYTES}"
            return [GraderFailure("python_grader_runtime_error", too_big) for _ in cases]
        results: list[float | GraderFailure | None] = [None] * len(cases)
        start = 0
        while start < len(cases):
            with self._slots:
                start = self._run_batch(source, cases, start, results, limits)
        return results  # type: ignore[return-value]  # every slot is filled by now

    def _run_batch(
        self,
        source: str,
        cases: Sequence[tuple[dict, dict]],
        start: int,
        results: list[float | GraderFailure | None],
        limits: SandboxLimits,
    ) -> int:
        """Run ``cases[start:]`` in one child, filling ``results``; the index to go on from."""
        root = tempfile.mkdtemp(prefix="rftkit-grader-")
        read_fd, write_fd = os.pipe()
        lines = _LineReader(read_fd)
        pid: int | None = None
        index = start
        try:
            task = {
                "source": source,
                "cases": [list(case) for case in cases[start:]],
                "root": root,
                "limits": asdict(limits),
            }
            try:
                self._send(task, write_fd)
            except (OSError, TypeError, ValueError) as exc:
                failure = GraderFailure(
                    "python_grader_server_error", f"{type(exc).__name__}: {exc}"
                )
                results[start:] = [failure] * (len(cases) - start)
                return len(cases)
            finally:
                os.close(write_fd)
            while index < len(cases):
                waited = time.monotonic()
                line = lines.next(limits.timeout_s + (_GRACE_S if pid is None else 0))
                if line is None or not line:
                    overran = line is None or time.monotonic() - waited >= limits.timeout_s
                    reason = (
                        f"TimeoutError: stopped after the {limits.timeout_s:g} s limit"
                        if overran
                        else "the grader process was killed (out of memory, or by a signal)"
                    )
                    results[index] = GraderFailure("python_grader_runtime_error", reason)
                    return index + 1
                try:
                    message = _parse_line(line)
                except GraderFailure as failure:
                    results[index] = failure
                    return index + 1
                if "pid" in message:
                    pid = int(message["pid"])
                    continue
                index = start + int(message["index"])
                results[index] = _outcome(message["kind"], message["payload"])
                index += 1
                if message["kind"] == "violation":
                    return index
            return index
        finally:
            if pid is not None and index < len(cases):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.close(read_fd)
            shutil.rmtree(root, ignore_errors=True)

    def _close_locked(self) -> None:
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
            self._close_locked()


def _parse_line(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
        if "pid" in message or {"index", "kind", "payload"} <= set(message):
            return message
    except (ValueError, TypeError):
        pass
    raise GraderFailure("python_grader_server_error", f"unreadable result {line[:200]!r}")


def _outcome(kind: str, payload: Any) -> float | GraderFailure:
    if kind != "ok":
        return GraderFailure("python_grader_runtime_error", str(payload))
    score = float(payload)
    if not math.isfinite(score):
        return GraderFailure("python_grader_runtime_error", f"grade() returned {score}")
    return score


class _LineReader:
    """Newline-terminated messages from a pipe, each awaited with its own deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def next(self, timeout_s: float) -> bytes | None:
        """The next line; ``b""`` at EOF, None when ``timeout_s`` passes first."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # poll, not select: select fails once a busy process has fds above 1023.
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            if not poller.poll(remaining * 1000):
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return b""
            self.buffer.extend(chunk)
        line, _, rest = self.buffer.partition(b"\n")
        self.buffer = bytearray(rest)
        return bytes(line)


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
