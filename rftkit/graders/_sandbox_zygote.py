"""The sandbox's warm fork server: a single-threaded process that forks one child per grader call.

Started by :class:`rftkit.graders.sandbox.PythonSandbox` with ``python -I`` (no current directory
or ``PYTHON*`` variable on ``sys.path``) through :data:`BOOT`, as pid 1 of bubblewrap's namespaces
when the machine has them (else directly, with a filtered environment, only by explicit opt-in).
Inside, this module and :mod:`rftkit.graders._sandbox_seccomp` are the only project files the
sandbox has: they are bound into an otherwise empty ``rftkit.graders`` package, and that path (and
the package's modules) leave ``sys.path`` (and ``sys.modules``) before any grader runs. Each task
arrives on the control socket as a 4-byte length, two descriptors (``SCM_RIGHTS``: the write end of
a result pipe and this task's *lease*, one end of a socket pair whose other end the caller keeps)
and the JSON task: one grader source and its cases.

The child gets a fresh temp dir, rlimits, a seccomp filter (an allow-list: no processes, threads,
sockets or signals to others), the audit hook (which reports attempts), then loads the source once
and writes one JSON line per case to the result pipe. Under namespaces (``--private-tmp``) the
temp dir is ``/tmp`` itself: the child unshares its mount namespace and mounts its own tmpfs there,
capped in bytes and inodes, then drops every capability. Nothing one call writes is visible to
another, and it is freed by the kernel when the child's last reference to it goes, so nothing
outlives the call. The child never sees the lease or the control
socket. The server writes one byte on the lease once the child is forked (the caller's clock
starts then), and watches it: when the caller closes or shuts down its end (a case overran, the
call is over, the caller died) it kills the child; once the child is reaped and its temp dir
removed it closes the lease, which is how the caller knows that nothing of its call is left
running. Children also die at a generous backstop. The server is not dumpable, so a child cannot
trace it or read its memory; it holds ``CAP_SYS_ADMIN`` only inside the sandbox's user namespace
(to mount each child's ``/tmp``), which also keeps a capability-less child from tracing it.

Forking here rather than in the caller keeps ``fork`` away from the caller's threads and makes a
call cost a fork, not an interpreter start. ``multiprocessing``'s fork server was not used
because its children re-run the caller's ``__main__`` script.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import math
import numbers
import os
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from typing import Any

from rftkit.graders import _sandbox_seccomp

BOOT = (
    "import os, runpy, sys; sys.path[:0] = sys.argv[1].split(os.pathsep) if sys.argv[1] else []; "
    "runpy.run_module('rftkit.graders._sandbox_zygote', run_name='__main__', alter_sys=True)"
)
"""``python -I -c BOOT PATHS ARGS...``: run this module as ``__main__`` from ``PATHS``
(pathsep-joined), as ``python -m`` would without ``-I``."""

HEADER = struct.Struct("!I")
PRELOADED = ("json", "math", "re", "numpy", "rapidfuzz")
"""Imported once here so graders that use them start fast."""

VIOLATION_EXIT = 3
DETAILS_LIMIT = 4000
_GRACE_S = 5.0
_PR_SET_DUMPABLE = 4
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000
_CAP_VERSION_3 = 0x20080522
MAX_INODES = 10_000
"""Files and directories one call may create in its /tmp (each costs kernel memory)."""
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
    """Report the first forbidden operation and stop the process.

    A second layer: grader code can disable a Python hook, so the namespaces and the seccomp
    filter are what stop it; the hook turns the honest mistakes into clear messages. Reporting
    and exiting (rather than raising) means a grader cannot catch the error and go on to
    return a score.
    """

    def deny(what: str) -> None:
        with contextlib.suppress(Exception):
            message = {"index": current[0], "kind": "violation", "payload": f"sandbox: {what}"}
            _write_line(result_fd, message)
        os._exit(VIOLATION_EXIT)

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
        elif event == "sqlite3.connect" and args[0] not in (":memory:", "", b":memory:", b""):
            if not _inside(args[0], root):
                deny(f"sqlite3.connect on {os.fsdecode(args[0])!r} outside the grader's temp dir")
        elif event in _PATH_EVENTS:
            for path in args[: _PATH_EVENTS[event]]:
                if path is not None and not _inside(path, root):
                    deny(f"{event} on {os.fsdecode(path)!r} outside the grader's temp dir")

    sys.addaudithook(hook)


def _set_limits(limits: dict[str, Any], cases: int) -> None:
    """Memory, file size, no core dumps, no new processes, and CPU time as a backstop (time is
    enforced per case by the caller; a CPU limit counts the whole batch)."""
    cpu = math.ceil(limits["timeout_s"] * max(cases, 1) + _GRACE_S)
    wanted = {
        resource.RLIMIT_AS: limits["memory_bytes"],
        resource.RLIMIT_FSIZE: limits["disk_bytes"],
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: cpu,
        resource.RLIMIT_NPROC: 1,  # not enforced for root; seccomp covers that case
    }
    for kind, value in wanted.items():
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:
            value = min(value, current_hard)
        resource.setrlimit(kind, (value, value))


def _outcome(grade: Any, sample: Any, item: Any, limits: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = grade(sample, item)
    except MemoryError:
        return "error", f"MemoryError: over the memory limit ({limits['memory_bytes']} bytes)"
    except BaseException:  # the grader's own failure, reported with its traceback
        return "error", traceback.format_exc()[-DETAILS_LIMIT:]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return "ok", float(value)
    return "error", f"grade() returned {value!r:.200}, not a number"


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _private_tmp(root: str, disk_bytes: int) -> None:
    """This child's own mount namespace with a fresh, capped tmpfs on ``root``; then no
    capability is left (they were only ever this sandbox's user namespace's)."""
    libc = _libc()

    def check(code: int, what: str) -> None:
        if code != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"{what}: {os.strerror(error)}")

    check(libc.unshare(_CLONE_NEWNS), "unshare")
    check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate")
    options = f"size={max(disk_bytes, 4096)},nr_inodes={MAX_INODES},mode=0700".encode()
    check(libc.mount(b"tmpfs", root.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "mount")
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    nothing = (ctypes.c_uint32 * 6)()
    check(libc.capset(header, nothing), "capset")
    check(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient caps")
    check(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "not dumpable")


def _child(
    task: dict[str, Any],
    root: str,
    result_fd: int,
    private: bool,
    seccomp: _sandbox_seccomp.ChildFilter | None,
) -> None:
    """Grade every case of the task in order, one result line each; never returns."""
    quiet = os.open(os.devnull, os.O_WRONLY)  # prints are captured below; raw writes go nowhere
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.close(quiet)
    try:  # no grader code runs unless every layer is in place
        if private:
            _private_tmp(root, task["limits"]["disk_bytes"])
        os.chdir(root)
        os.environ.clear()
        os.environ.update({"HOME": root, "TMPDIR": root, "PATH": os.defpath})
        tempfile.tempdir = root
        sys.dont_write_bytecode = True
        _set_limits(task["limits"], len(task["cases"]))
        if seccomp is not None:
            seccomp.install()
    except OSError as exc:
        failed = f"the sandbox could not be set up for this call: {exc}"
        _write_line(result_fd, {"index": 0, "kind": "error", "payload": failed})
        os._exit(1)
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
            loaded = ("error", traceback.format_exc()[-DETAILS_LIMIT:])
        for index, (sample, item) in enumerate(task["cases"]):
            current[0] = index
            kind, payload = loaded or _outcome(grade, sample, item, task["limits"])
            _write_line(result_fd, {"index": index, "kind": kind, "payload": payload})
            captured.seek(0)
            captured.truncate()
    os._exit(0)


@dataclass
class _Running:
    """One child: its pid (from our own fork), pidfd, the caller's lease, and its temp dir."""

    pid: int
    pidfd: int
    lease: socket.socket
    root: str | None
    deadline: float


def _receive(control: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    header, fds, _, _ = socket.recv_fds(control, HEADER.size, 2)
    if not header:
        for fd in fds:
            os.close(fd)
        return None
    (length,) = HEADER.unpack(header)
    body = bytearray()
    while len(body) < length:
        chunk = control.recv(length - len(body))
        if not chunk:
            return None
        body.extend(chunk)
    return json.loads(body), fds


def _start(
    task: dict[str, Any],
    fds: list[int],
    private_tmp: str | None,
    seccomp: _sandbox_seccomp.ChildFilter | None,
) -> _Running:
    result_fd, lease_fd = fds
    lease = socket.socket(fileno=lease_fd)
    root = private_tmp or tempfile.mkdtemp(prefix="grader-")
    pid = os.fork()
    if pid == 0:
        try:  # the child keeps only stdio and its result pipe: no lease, no other task's fds
            os.closerange(3, result_fd)
            os.closerange(result_fd + 1, os.sysconf("SC_OPEN_MAX"))
            _child(task, root, result_fd, private_tmp is not None, seccomp)
        finally:
            os._exit(1)
    os.close(result_fd)
    lease.send(b"s")  # started: the caller's clock for the first case starts now
    budget = task["limits"]["timeout_s"] * max(len(task["cases"]), 1)
    shared_root = None if private_tmp else root
    deadline = time.monotonic() + budget + _GRACE_S
    return _Running(pid, os.pidfd_open(pid), lease, shared_root, deadline)


def _finish(child: _Running) -> None:
    """Kill (if needed) and reap the child, remove its temp dir, then release the lease."""
    with contextlib.suppress(ProcessLookupError, OSError):
        signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
    os.waitpid(child.pid, 0)
    os.close(child.pidfd)
    if child.root is not None:  # a private /tmp went with the child's mount namespace
        shutil.rmtree(child.root, ignore_errors=True)
    child.lease.close()


def serve(control: socket.socket, private_tmp: str | None = None) -> None:
    """Fork a child per task until the caller closes the socket; every child ends with its lease."""
    seccomp = _sandbox_seccomp.ChildFilter() if _sandbox_seccomp.available() else None
    running: dict[int, _Running] = {}  # by pidfd
    leases: dict[int, _Running] = {}  # by lease fd
    while True:
        now = time.monotonic()
        for child in [c for c in running.values() if now >= c.deadline]:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
        watched = {**running, **leases}  # fd -> child, taken before any fd is closed
        poller = select.poll()  # not select(): descriptors may be above 1023
        poller.register(control, select.POLLIN)
        for fd in watched:
            poller.register(fd, select.POLLIN)
        wait = min([c.deadline - now for c in running.values()] + [1.0])
        events = [fd for fd, _ in poller.poll(max(wait, 0.01) * 1000)]
        # The child exited, or the caller let go of its lease (done, overran or gone).
        for child in {id(watched[fd]): watched[fd] for fd in events if fd in watched}.values():
            del running[child.pidfd], leases[child.lease.fileno()]
            _finish(child)
        if control.fileno() in events:
            received = _receive(control)
            if received is None:
                for child in running.values():
                    _finish(child)
                return
            child = _start(*received, private_tmp, seccomp)
            running[child.pidfd] = child
            leases[child.lease.fileno()] = child


def _not_dumpable() -> None:
    """No ptrace or /proc/<pid>/mem of this server (or, inherited, of its children)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def main(argv: list[str], boot_paths: list[str]) -> None:
    """``FD [--private-tmp PATH]``: serve on the control socket FD."""
    # Ctrl-C or a notebook kernel's shutdown reaches the whole process group; the server ends
    # when its parent closes the control socket, so the interrupt is not its business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _not_dumpable()
    private_tmp = argv[2] if argv[1:2] == ["--private-tmp"] else None
    if private_tmp is not None:  # graders see the interpreter and its packages, not this package
        for path in boot_paths:
            sys.path.remove(path)
        # The boot package (this module's parents, empty inside) would still answer an import.
        for name in [m for m in sys.modules if m == "rftkit" or m.startswith("rftkit.")]:
            del sys.modules[name]
    for module in PRELOADED:
        with contextlib.suppress(ImportError):
            __import__(module)
    serve(socket.socket(fileno=int(argv[0])), private_tmp)


if __name__ == "__main__":
    main(sys.argv[2:], sys.argv[1].split(os.pathsep) if sys.argv[1] else [])
