"""The sandbox's warm fork server: a single-threaded process that forks one child per grader call.

Started by :class:`rftkit.graders.sandbox.PythonSandbox` as ``python -m rftkit._grader_zygote``
with a filtered environment (no API keys) and its control socket's fd as the argument. Each task
arrives as a 4-byte length plus the write end of a result pipe (``SCM_RIGHTS``), then the JSON
task. The child applies the limits and the audit guard, runs ``grade``, writes one JSON result to
the pipe and exits; the server kills children that pass their deadline. Forking here rather than
in the caller keeps ``fork`` away from the caller's threads and makes a call cost a fork, not an
interpreter start. ``multiprocessing``'s fork server was not used because its children re-run
the caller's ``__main__`` script.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
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


def _write_result(fd: int, kind: str, payload: Any) -> None:
    data = json.dumps({"kind": kind, "payload": payload}).encode()
    view = memoryview(data)
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


def _install_guard(root: str, result_fd: int) -> None:
    """Stop the process at the first forbidden operation, after reporting why.

    Reporting and exiting (rather than raising) means a grader cannot catch the error and go on
    to return a score.
    """

    def deny(what: str) -> None:
        with contextlib.suppress(Exception):
            _write_result(result_fd, "violation", f"sandbox: {what}")
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
    cpu = math.ceil(limits["timeout_s"]) + 1
    wanted = {
        resource.RLIMIT_AS: (limits["memory_bytes"], limits["memory_bytes"]),
        resource.RLIMIT_CPU: (cpu, cpu + 1),  # the hard limit is a SIGKILL nobody can catch
        resource.RLIMIT_FSIZE: (limits["disk_bytes"], limits["disk_bytes"]),
        resource.RLIMIT_CORE: (0, 0),
    }
    for kind, (soft, hard) in wanted.items():
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))


def _child(task: dict[str, Any], result_fd: int) -> None:
    """Run one grader call; never returns."""
    root = os.path.realpath(task["root"])
    os.chdir(root)
    os.environ.clear()
    os.environ.update({"HOME": root, "TMPDIR": root, "PATH": os.defpath})
    tempfile.tempdir = root
    sys.dont_write_bytecode = True
    _set_limits(task["limits"])
    _install_guard(root, result_fd)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            namespace: dict[str, Any] = {"__name__": "grader"}
            exec(compile(task["source"], "<python grader>", "exec"), namespace)
            grade = namespace.get("grade")
            if not callable(grade):
                raise NameError("the source defines no function grade(sample, item)")
            value = grade(task["sample"], task["item"])
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            _write_result(result_fd, "ok", float(value))
        else:
            _write_result(result_fd, "error", f"grade() returned {value!r:.200}, not a number")
    except MemoryError:
        limit = task["limits"]["memory_bytes"]
        _write_result(result_fd, "error", f"MemoryError: over the memory limit ({limit} bytes)")
    except BaseException:  # the grader's own failure, reported with its traceback
        _write_result(result_fd, "error", traceback.format_exc()[-_DETAILS_LIMIT:])
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
        readable, _, _ = select.select([control], [], [], max(wait, 0.01))
        if not readable:
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
        deadlines[pid] = time.monotonic() + task["limits"]["timeout_s"]
    for pid in deadlines:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def main() -> None:
    for module in PRELOADED:
        with contextlib.suppress(ImportError):
            __import__(module)
    serve(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
