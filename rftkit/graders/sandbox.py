"""Run a ``python`` grader's ``grade(sample, item)`` in a separate, isolated, limited process.

The service runs python graders in a sandbox: no network, 2 minutes, 2 GB, 1 GB of disk
(docs/hosted-api.md §5.3). Locally every call runs in a fresh child forked from a warm fork server
(:mod:`rftkit._grader_zygote`, with numpy and rapidfuzz already imported), so a call costs a
fork, not an interpreter start, and no call leaves state behind for the next.

Isolation (:func:`PythonSandbox.isolation_level` says which applies):

- **namespaces (bubblewrap)** on Linux where ``bwrap`` works (:mod:`rftkit.graders.isolation`):
  the fork server and its children see only a read-only interpreter, a private ``/tmp``, their
  own ``/proc`` and no network, as an unprivileged uid; each child also gets a seccomp filter
  (no processes, threads, sockets, tracing, or signals to others), rlimits (memory, file size,
  CPU time) and a wall-clock limit enforced here. Grader code can still use CPU and memory up
  to the limits, read the interpreter's files and the sample it was given, write in its temp
  dir, and see the temp dir of a call running at the same moment (same sandbox uid).
- **in-process checks only (not a security boundary)** elsewhere (macOS, Windows, a container
  that forbids namespaces): the same rlimits, filtered environment and seccomp where available,
  and an audit hook that stops sockets, subprocesses and writes outside the temp dir. That keeps
  honest graders faithful to the service's limits; hostile code can get around it.
  ``require_isolation=True`` refuses to run in this mode instead.

The caller trusts nothing the child writes: each result line is bounded in size, parsed, and
checked for its type and its case index (in order, each once); a violation reported for a case
overrides an earlier line for it; a pid is never read from the child (the fork server kills its
own children when the caller releases the call's lease); and every call returns only after the
fork server has reaped its child.

The grader sees this environment's packages, not the service's image (``image_tag`` is accepted
and ignored; the image pins numpy, scipy, rapidfuzz, nltk, rouge-score and others,
docs/hosted-api.md §5.3). ``run_many`` grades many cases with one source in one child, each case
still limited.

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
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rftkit import _grader_zygote as _zygote
from rftkit.graders.isolation import (
    IN_PROCESS,
    IsolationUnavailable,
    bwrap_command,
    isolation_level,
    namespaces_unavailable,
    thread_env,
)
from rftkit.graders.result import GraderFailure

MAX_SOURCE_BYTES = 256_000
"""The service's limit on a python grader's source."""

MAX_LINE_BYTES = 64 * 1024
"""The longest result line read from a child (a score, or a traceback cut to 4000 characters)."""

_ENV_KEPT = re.compile(r"^(PATH|PYTHONHASHSEED|LANG|LC_\w+|TZ)$")
"""Variables the fork server inherits when it runs without namespaces; API keys, tokens and the
rest stay out."""

_FORK_S = 10.0
"""How long a warm fork server may take to fork a child."""
_START_S = 60.0
"""How long a fork server just started (interpreter, numpy, bubblewrap) may take for its first."""
_LEASE_WAIT_S = 10.0
_RUNTIME = "python_grader_runtime_error"


@dataclass(frozen=True)
class SandboxLimits:
    """Per-call limits; the defaults are the service's (2 min, 2 GB, 1 GB of disk)."""

    timeout_s: float = 120.0
    memory_bytes: int = 2 * 1024**3
    disk_bytes: int = 1024**3


class PythonSandbox:
    """One warm fork server; ``run`` is safe to call from many threads at once, at most
    ``max_concurrency`` calls at a time (default: 4 per core, at least 8, so a few looping
    graders do not hold every slot).

    ``require_isolation=True`` raises :class:`IsolationUnavailable` (here, at construction)
    where namespaces cannot be had, instead of running graders with in-process checks only.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        max_concurrency: int | None = None,
        *,
        require_isolation: bool = False,
    ):
        self.limits = limits or SandboxLimits()
        reason = namespaces_unavailable()
        if require_isolation and reason is not None:
            raise IsolationUnavailable(f"python graders need namespaces and {reason}")
        self._isolated = reason is None
        concurrency = max_concurrency or max(8, 4 * (os.cpu_count() or 1))
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._server: subprocess.Popen[bytes] | None = None

    def isolation_level(self) -> str:
        """``"namespaces (bubblewrap) ..."`` or ``"in-process checks only (not a security
        boundary)"``: what this sandbox's graders run under."""
        return isolation_level() if self._isolated else IN_PROCESS

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = [sys.executable, "-m", "rftkit._grader_zygote", str(theirs.fileno())]
        if self._isolated:
            command = bwrap_command(command, self.limits.disk_bytes)
            env = {"PATH": os.defpath}  # bwrap's own environment shows in the sandbox's /proc
        else:
            env = {k: v for k, v in os.environ.items() if _ENV_KEPT.match(k)}
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            env.update(thread_env())
        self._server = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),)
        )
        theirs.close()
        self._control = ours
        return ours

    def _send(self, task: dict[str, Any], fds: list[int]) -> float:
        """Send the task; how long to wait for its child (longer if the server is new)."""
        body = json.dumps(task).encode()
        with self._lock:
            try:
                return self._send_locked(body, fds)
            except OSError:
                self._close_locked()  # the server died: one more try with a fresh one
            try:
                return self._send_locked(body, fds)
            except OSError:
                self._close_locked()
                raise

    def _send_locked(self, body: bytes, fds: list[int]) -> float:
        fresh = self._control is None or not self._alive()
        control = self._start() if fresh else self._control
        socket.send_fds(control, [_zygote.HEADER.pack(len(body))], fds)
        control.sendall(body)
        return _START_S if fresh else _FORK_S

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
            return [GraderFailure(_RUNTIME, too_big) for _ in cases]
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
        """Run ``cases[start:]`` in one child, filling ``results``; the index to go on from.

        Returns only after the fork server has reaped the child (it closes the lease then).
        """
        read_fd, write_fd = os.pipe()
        lease, their_lease = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            task = {"source": source, "cases": [list(c) for c in cases[start:]]}
            task["limits"] = asdict(limits)
            try:
                wait_s = self._send(task, [write_fd, their_lease.fileno()])
            except (OSError, TypeError, ValueError) as exc:
                failure = GraderFailure(
                    "python_grader_server_error", f"{type(exc).__name__}: {exc}"
                )
                results[start:] = [failure] * (len(cases) - start)
                return len(cases)
            finally:
                os.close(write_fd)
                their_lease.close()
            if not _started(lease, wait_s):
                late = f"the fork server did not start the grader within {wait_s:g} s"
                failure = GraderFailure("python_grader_server_error", late)
                results[start:] = [failure] * (len(cases) - start)
                return len(cases)
            return _collect(_LineReader(read_fd), start, len(cases), results, limits)
        finally:
            os.close(read_fd)
            self._release(lease)

    def _release(self, lease: socket.socket) -> None:
        """Tell the fork server the call is over and wait until it has reaped the child."""
        with contextlib.suppress(OSError):
            lease.shutdown(socket.SHUT_WR)
        poller = select.poll()
        poller.register(lease, select.POLLIN)
        deadline = time.monotonic() + _LEASE_WAIT_S
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                if poller.poll(remaining * 1000) and not lease.recv(4096):
                    return
            with self._lock:  # the fork server did not answer: stop it and all it runs
                self._close_locked(wait_s=0)
        finally:
            lease.close()

    def _close_locked(self, wait_s: float = 5.0) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._server.wait(timeout=wait_s)
            if self._server.poll() is None:
                self._server.kill()
                self._server.wait()
            self._server = None

    def close(self) -> None:
        """Stop the fork server (it also stops by itself when this process exits)."""
        with self._lock:
            self._close_locked()


def _started(lease: socket.socket, wait_s: float) -> bool:
    """Whether the fork server says (one byte on the lease) that it forked the child in time."""
    poller = select.poll()
    poller.register(lease, select.POLLIN)
    return bool(poller.poll(wait_s * 1000)) and lease.recv(1) == b"s"


def _collect(
    lines: _LineReader,
    start: int,
    count: int,
    results: list[float | GraderFailure | None],
    limits: SandboxLimits,
) -> int:
    """Read the child's result lines into ``results[start:]``; the index to go on from.

    After the last case the child must exit: a violation reported then still counts (grader
    code may have forged the lines before it), and a child that stays alive, or writes more,
    fails the last case.
    """
    index = start
    while index <= count:
        waited = time.monotonic()
        line = lines.next(limits.timeout_s)
        if index == count:  # expecting the end of the child's output
            if line == b"":
                return count
            if line is not None and line is not _TOO_LONG:
                with contextlib.suppress(GraderFailure):
                    offset, kind, outcome = _parse_line(line, count - start)
                    if kind == "violation":
                        return _violation(results, start, offset, outcome, index)
            extra = "stayed alive" if line is None else "wrote more"
            results[count - 1] = GraderFailure(
                _RUNTIME, f"the grader's process {extra} after its last result"
            )
            return count
        if line is None or not line or line is _TOO_LONG:
            overran = line is None or time.monotonic() - waited >= limits.timeout_s
            if line is _TOO_LONG:
                reason = f"the grader's process wrote a result line over {MAX_LINE_BYTES} bytes"
            elif overran:
                reason = f"TimeoutError: stopped after the {limits.timeout_s:g} s limit"
            else:
                reason = "the grader process ended without a result (out of memory, or killed)"
            results[index] = GraderFailure(_RUNTIME, reason)
            return index + 1
        try:
            offset, kind, outcome = _parse_line(line, count - start)
        except GraderFailure as failure:
            results[index] = failure
            return index + 1
        if kind == "violation" and start + offset <= index:
            return _violation(results, start, offset, outcome, index)
        if start + offset != index:
            wrong = f"the grader's process wrote a result for case {offset}, not {index - start}"
            results[index] = GraderFailure(_RUNTIME, wrong)
            return index + 1
        results[index] = outcome
        index += 1
    return index


def _violation(
    results: list[float | GraderFailure | None],
    start: int,
    offset: int,
    outcome: float | GraderFailure,
    index: int,
) -> int:
    """A violation reported by the guard for the case it was in overrides whatever line came
    for that case before; the cases after it are graded again in a fresh child."""
    results[start + offset] = outcome
    results[start + offset + 1 : index] = [None] * (index - start - offset - 1)
    return start + offset + 1


def _parse_line(line: bytes, count: int) -> tuple[int, str, float | GraderFailure]:
    """``(case index, kind, score or failure)`` from one line; GraderFailure if malformed."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        message = None
    if isinstance(message, dict) and set(message) == {"index", "kind", "payload"}:
        index, kind, payload = message["index"], message["kind"], message["payload"]
        in_range = type(index) is int and 0 <= index < count
        if in_range and kind == "ok" and type(payload) in (int, float):
            score = float(payload)
            if math.isfinite(score):
                return index, kind, score
            return index, kind, GraderFailure(_RUNTIME, f"grade() returned {score}")
        if in_range and kind in ("error", "violation") and isinstance(payload, str):
            return index, kind, GraderFailure(_RUNTIME, payload[: _zygote.DETAILS_LIMIT])
    shown = line[:200].decode(errors="replace")
    raise GraderFailure(_RUNTIME, f"the grader's process wrote an unreadable result: {shown!r}")


_TOO_LONG = b"<too long>"


class _LineReader:
    """Newline-terminated messages from a pipe, each awaited with its own deadline and bounded
    in length (a child that never writes a newline cannot grow this buffer past the limit)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def next(self, timeout_s: float) -> bytes | None:
        """The next line; ``b""`` at EOF, ``_TOO_LONG`` past the limit, None on timeout."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE_BYTES:
                return _TOO_LONG
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # poll, not select: select fails once a busy process has fds above 1023.
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            if not poller.poll(remaining * 1000):
                return None
            chunk = os.read(self.fd, MAX_LINE_BYTES + 1 - len(self.buffer))
            if not chunk:
                return b""
            self.buffer.extend(chunk)
        line, _, rest = self.buffer.partition(b"\n")
        if len(line) > MAX_LINE_BYTES:
            return _TOO_LONG
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
