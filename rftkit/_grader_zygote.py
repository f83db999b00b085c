"""The sandbox's warm fork server: a single-threaded process that forks one child per grader call.

Started by :class:`rftkit.graders.sandbox.PythonSandbox` as ``python -m rftkit._grader_zygote``
with a filtered environment (no API keys) and its control socket's fd as the argument. Each task
arrives as a 4-byte length plus the write end of a result pipe (``SCM_RIGHTS``), then the JSON
task: one grader source and the cases to grade with it. The child writes its pid, applies the
limits and the audit guard, loads the source once, and writes one JSON line per case; the caller
kills it when a case overruns, and the server kills children past a generous backstop.
Forking here rather than in the caller keeps ``fork`` away from the caller's threads and makes a
call cost a fork, not an interpreter start. ``multiprocessing``'s fork server was not used
because its children re-run the caller's ``__main__`` script.
"""

from __future__ import annotations

import contextlib
import io
import json
import numbers
import os
import resource
import select
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback
from typing import Any

HEADER = struct.Struct("!I")
PRELOADED = ("json", "math", "re", "numpy", "rapidfuzz")
"""Imported once here so graders that use them start fast."""

_DETAILS_LIMIT = 4000
_GRACE_S = 5.0
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FORBIDDEN = (
    "socket.",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "pty.spawn",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.call_function",
    "webbrowser.open",
    "resource.setrlimit",
    "resource.prlimit",
    "signal.pthread_kill",
)
_PATH_EVENTS = {  # event: how many leading arguments are paths
    "os.remove": 1,
    "os.rmdir": 1,
    "os.mkdir": 1,
    "os.rename": 2,
    "os.link": 2,
    "os.symlink": 2,
    "os.chmod": 1,
    "os.chown": 1,
    "os.truncate": 1,
    "os.utime": 1,
    "shutil.rmtree": 1,
    "shutil.move": 2,
    "shutil.copyfile": 2,
}


def _write_line(fd: int, message: dict[str, Any]) -> None:
    """One JSON message per line; the child is the only writer, so lines never interleave."""
    view = memoryview(json.dumps(message).encode() + b"\n")
    while view:
        view = view[os.write(fd, view) :]


def _inside(path: Any, root: str) -> bool:
    if isinstance(path, int):  # an already-open descriptor: its opening was checked
        return True
    try:
        resolved = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return resolved == root or resolved.startswith(root + os.sep) or resolved == os.devnull


def _install_guard(root: str, result_fd: int, current: list[int]) -> None:
    """Stop the process at the first forbidden operation, after reporting why.

    Reporting and exiting (rather than raising) means a grader cannot catch the error and go on
    to return a score. ``current[0]`` is the index of the case being graded.
    """

    def deny(what: str) -> None:
        with contextlib.suppress(Exception):
            message = {"index": current[0], "kind": "violation", "payload": f"sandbox: {what}"}
            _write_line(result_fd, message)
        os._exit(3)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith(_FORBIDDEN):
            deny(f"{event} is not allowed in a python grader")
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes and not _inside(path, root):
                deny(f"writing {os.fsdecode(path)!r} outside the grader's temp dir")
        elif event in _PATH_EVENTS:
            for path in args[: _PATH_EVENTS[event]]:
                if path is not None and not _inside(path, root):
                    deny(f"{event} on {os.fsdecode(path)!r} outside the grader's temp dir")

    sys.addaudithook(hook)


def _set_limits(limits: dict[str, Any]) -> None:
    """Memory and file size; time is wall-clock, enforced per case by the caller's SIGKILL (a
    CPU rlimit would count a whole batch of cases against one case's budget)."""
    wanted = {
        resource.RLIMIT_AS: (limits["memory_bytes"], limits["memory_bytes"]),
        resource.RLIMIT_FSIZE: (limits["disk_bytes"], limits["disk_bytes"]),
        resource.RLIMIT_CORE: (0, 0),
    }
    for kind, (soft, hard) in wanted.items():
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))


def _outcome(grade: Any, sample: Any, item: Any, limits: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = grade(sample, item)
    except MemoryError:
        return "error", f"MemoryError: over the memory limit ({limits['memory_bytes']} bytes)"
    except BaseException:  # the grader's own failure, reported with its traceback
        return "error", traceback.format_exc()[-_DETAILS_LIMIT:]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return "ok", float(value)
    return "error", f"grade() returned {value!r:.200}, not a number"


def _child(task: dict[str, Any], result_fd: int) -> None:
    """Grade every case of the task in order, one result line each; never returns.

    The first line is the child's pid, so the caller can stop it when a case overruns.
    """
    _write_line(result_fd, {"pid": os.getpid()})
    root = os.path.realpath(task["root"])
    os.chdir(root)
    os.environ.clear()
    os.environ.update({"HOME": root, "TMPDIR": root, "PATH": os.defpath})
    tempfile.tempdir = root
    sys.dont_write_bytecode = True
    _set_limits(task["limits"])
    current = [0]
    _install_guard(root, result_fd, current)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        try:
            namespace: dict[str, Any] = {"__name__": "grader"}
            exec(compile(task["source"], "<python grader>", "exec"), namespace)
            grade = namespace.get("grade")
            if not callable(grade):
                raise NameError("the source defines no function grade(sample, item)")
            loaded: tuple[str, Any] | None = None
        except BaseException:
            loaded = ("error", traceback.format_exc()[-_DETAILS_LIMIT:])
        for index, (sample, item) in enumerate(task["cases"]):
            current[0] = index
            kind, payload = loaded or _outcome(grade, sample, item, task["limits"])
            _write_line(result_fd, {"index": index, "kind": kind, "payload": payload})
            captured.seek(0)
            captured.truncate()
    os._exit(0)


def _receive(control: socket.socket) -> tuple[dict[str, Any], int] | None:
    header, fds, _, _ = socket.recv_fds(control, HEADER.size, 1)
    if not header:
        return None
    (length,) = HEADER.unpack(header)
    body = bytearray()
    while len(body) < length:
        chunk = control.recv(length - len(body))
        if not chunk:
            return None
        body.extend(chunk)
    return json.loads(body), fds[0]


def serve(control: socket.socket) -> None:
    """Fork a child per task until the caller closes the socket; kill children past deadline."""
    deadlines: dict[int, float] = {}
    while True:
        now = time.monotonic()
        for pid, deadline in list(deadlines.items()):
            if now >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while deadlines:
                pid, _ = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                deadlines.pop(pid, None)
        wait = min([d - now for d in deadlines.values()] + [0.5])
        poller = select.poll()  # not select(): the inherited fd may be above 1023
        poller.register(control, select.POLLIN)
        if not poller.poll(max(wait, 0.01) * 1000):
            continue
        received = _receive(control)
        if received is None:
            break
        task, result_fd = received
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(task, result_fd)
        os.close(result_fd)
        # A backstop: the caller stops a child whose current case overruns its limit.
        budget = task["limits"]["timeout_s"] * len(task["cases"])
        deadlines[pid] = time.monotonic() + budget + _GRACE_S
    for pid in deadlines:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def main() -> None:
    # Ctrl-C or a notebook kernel's shutdown reaches the whole process group; the server ends
    # when its parent closes the control socket, so the interrupt is not its business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in PRELOADED:
        with contextlib.suppress(ImportError):
            __import__(module)
    serve(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
