"""Run a ``python`` grader's ``grade(sample, item)`` in a separate, isolated, limited process.

The service runs python graders in a sandbox: no network, 2 minutes, 2 GB, 1 GB of disk
(docs/hosted-api.md §5.3). Locally every call runs in a fresh child forked from a warm fork server
(:mod:`rftkit.graders._sandbox_zygote`, with numpy and rapidfuzz already imported), so a call costs
a fork, not an interpreter start, and no call leaves state behind for the next.

Isolation (:func:`PythonSandbox.isolation_level` says which applies, and
:func:`~rftkit.graders.isolation.isolation_details` what holds on this machine):

- **namespaces (bubblewrap)** on Linux where ``bwrap`` works (:mod:`rftkit.graders.isolation`):
  the fork server (pid 1) and its children run as an unprivileged host uid (``nobody`` when the
  caller is root), under a default-deny seccomp filter, and see only a read-only interpreter and
  its packages, their own ``/proc`` and no network. Each call's child has its own size- and
  inode-capped ``/tmp`` that no other call sees and that ends with it, rlimits (memory, file size,
  CPU time), a stricter filter (no processes, threads, sockets, or signals and limits for any
  process but itself) and a wall-clock limit enforced here. Grader code can still use CPU and
  memory up to the limits, read the interpreter's files and the sample it was given.
- **in-process checks only (not a security boundary)** elsewhere (macOS, Windows, a container
  that forbids namespaces): rftkit's own graders (:mod:`rftkit.graders.sources`, part of this
  package anyway) run, and any other source only by explicit opt-in
  (``RFTKIT_UNISOLATED_GRADERS=1`` or ``require_isolation=False``); otherwise
  :class:`~rftkit.graders.isolation.IsolationUnavailable` says how to install isolation. Such a
  sandbox says so on stderr each time it starts. Its graders get the same rlimits, a filtered
  environment, seccomp where available, and an audit hook that stops sockets, subprocesses and
  writes outside the temp dir: that keeps honest graders faithful to the service's limits;
  hostile code can get around it.

The caller trusts nothing the child writes: each result line is bounded in size, parsed with
bounded numbers (an integer of any length, ``Infinity``, ``NaN`` or an exponent that overflows is
that case's error, never the caller's exception), and checked for its type and its case index (in
order, each once); a violation reported for a case
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
import functools
import importlib
import inspect
import json
import math
import os
import pkgutil
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from rftkit.graders import _sandbox_zygote as _zygote
from rftkit.graders.isolation import (
    HOW_TO_ISOLATE,
    IN_PROCESS,
    UNISOLATED_ENV,
    IsolationUnavailable,
    isolation_level,
    namespaces_unavailable,
    sandbox_launch,
    thread_env,
    unisolated_allowed,
    zygote_command,
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
_SPAWNER = ThreadPoolExecutor(1, thread_name_prefix="rftkit-sandbox-spawner")
"""Starts every fork server from one thread that lives as long as this process: Linux ties
bubblewrap's ``--die-with-parent`` to the *thread* that started it, so a server started from a
short-lived worker thread (``asyncio.to_thread``) died with that thread."""
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

    Where namespaces cannot be had, a source other than rftkit's own graders
    (:mod:`rftkit.graders.sources`, which run as part of this package anyway) is refused with
    :class:`IsolationUnavailable` saying how to install isolation, unless the user opted in:
    ``require_isolation=False`` here, or, by default (``None``), the environment variable
    ``RFTKIT_UNISOLATED_GRADERS=1``. ``require_isolation=True`` refuses at construction, even
    with the variable set.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        max_concurrency: int | None = None,
        *,
        require_isolation: bool | None = None,
    ):
        self.limits = limits or SandboxLimits()
        reason = namespaces_unavailable()
        if require_isolation and reason is not None:
            raise IsolationUnavailable(f"python graders need namespaces and {reason}")
        self._require = require_isolation
        self._reason = reason
        self._said_opt_in = False
        self._isolated = reason is None
        concurrency = max_concurrency or max(8, 4 * (os.cpu_count() or 1))
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._server: subprocess.Popen[bytes] | None = None

    def _opted_in(self) -> bool:
        """``require_isolation=False``, or (default) ``RFTKIT_UNISOLATED_GRADERS=1`` now."""
        return self._require is False or (self._require is None and unisolated_allowed())

    def isolation_level(self) -> str:
        """``"namespaces (bubblewrap) ..."`` or ``"in-process checks only (not a security
        boundary)"``: what this sandbox's graders run under."""
        return isolation_level() if self._isolated else IN_PROCESS

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if self._isolated:
                launch = sandbox_launch(zygote_command(theirs.fileno()))
                command, fds = launch.argv, [theirs.fileno(), *launch.fds]
                env = {"PATH": os.defpath}  # bwrap's own environment shows in the sandbox's /proc
            else:
                _warn_unisolated(self._opted_in(), self._reason)
                self._said_opt_in = self._opted_in()
                paths = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
                boot = [sys.executable, "-I", "-c", _zygote.BOOT, paths, str(theirs.fileno())]
                command, fds, launch = boot, [theirs.fileno()], None
                env = {k: v for k, v in os.environ.items() if _ENV_KEPT.match(k)}
                env.update(thread_env())
            try:
                self._server = _SPAWNER.submit(
                    subprocess.Popen, command, env=env, stdin=subprocess.DEVNULL, pass_fds=fds
                ).result()
            finally:
                if launch is not None:
                    launch.close()
        finally:
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
        if not (self._isolated or source in _shipped_sources()):
            if not self._opted_in():
                raise IsolationUnavailable(
                    f"python graders from elsewhere run only isolated and {self._reason}: "
                    f"{HOW_TO_ISOLATE}"
                )
            if not self._said_opt_in:  # opted in after this sandbox started
                _warn_unisolated(True, self._reason)
                self._said_opt_in = True
        size = len(source.encode())
        if size > MAX_SOURCE_BYTES:
            too_big = f"the source is {size} bytes; the limit is {MAX_SOURCE_BYTES}"
            return [GraderFailure(_RUNTIME, too_big) for _ in cases]
        results: list[float | GraderFailure | None] = [None] * len(cases)
        start = 0
        while start < len(cases):
            with self._slots:
                try:
                    start = self._run_batch(source, cases, start, results, limits)
                except Exception as exc:  # a bug here must cost these cases, not the batch
                    detail = f"{type(exc).__name__}: {exc}"[:_zygote.DETAILS_LIMIT]
                    failure = GraderFailure("python_grader_server_error", detail)
                    results[start:] = [failure] * (len(cases) - start)
                    start = len(cases)
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


def _warn_unisolated(opted_in: bool, reason: str | None) -> None:
    """Said on every start of an unisolated fork server, so the choice stays visible."""
    if opted_in:
        said = (
            f"python graders run WITHOUT isolation ({UNISOLATED_ENV}=1 or "
            "require_isolation=False): in-process checks only, not a security boundary. "
            "Run only graders you wrote yourself."
        )
    else:
        said = (
            f"no isolation for python graders here ({reason}): rftkit's own graders run with "
            f"in-process checks; any other is refused. To isolate: {HOW_TO_ISOLATE}."
        )
    print(f"rftkit: {said}", file=sys.stderr)


@functools.cache
def _shipped_sources() -> frozenset[str]:
    """The sources of rftkit's own python graders: each module of :mod:`rftkit.graders.sources`
    (as :func:`~rftkit.graders.sources.python_grader` sends it), the call count
    included."""
    from rftkit.graders import sources

    found = set()
    for module in pkgutil.iter_modules(sources.__path__, f"{sources.__name__}."):
        found.add(inspect.getsource(importlib.import_module(module.name)))
    return frozenset(found)


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
    """``(case index, kind, score or failure)`` from one line; GraderFailure if malformed.

    Nothing in the line can raise anything else: integers of any length, ``Infinity``/``NaN``,
    exponents that overflow and deep nesting all end as that case's failure.
    """
    try:
        message = json.loads(line)
    except (ValueError, RecursionError, OverflowError):
        message = None
    if isinstance(message, dict) and set(message) == {"index", "kind", "payload"}:
        index, kind, payload = message["index"], message["kind"], message["payload"]
        in_range = type(index) is int and 0 <= index < count
        if in_range and kind == "ok" and type(payload) in (int, float):
            try:
                score = float(payload)
            except OverflowError:
                score = math.inf
            if math.isfinite(score):
                return index, kind, score
            shown = "a number too large for a float" if type(payload) is int else str(score)
            return index, kind, GraderFailure(_RUNTIME, f"grade() returned {shown}")
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


def default_sandbox(require_isolation: bool | None = None) -> PythonSandbox:
    """The process-wide sandbox (one fork server, started on first use); ``require_isolation``
    applies when this call creates it (see :class:`PythonSandbox`)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PythonSandbox(require_isolation=require_isolation)
            atexit.register(_default.close)
        return _default


def run_python_grader(
    source: str, sample: dict, item: dict, limits: SandboxLimits | None = None
) -> float:
    """Run ``source``'s ``grade`` once in the default sandbox (GraderFailure on failure)."""
    return default_sandbox().run(source, sample, item, limits)
