"""A seccomp filter for grader children, built with libseccomp (the library behind Docker's and
systemd's filters) through ctypes, since no Python binding for it is packaged for pip.

Applied by :mod:`rftkit._grader_zygote` in each child after ``fork`` and before the grader's code
runs; a filter cannot be removed, so the grader cannot undo it. It makes these system calls fail
with ``EPERM``: starting processes or threads (``fork``, ``clone``, ``exec``), sockets, tracing or
reading another process (``ptrace``, ``process_vm_*``, pidfds), signals to any process but itself,
and changing namespaces or mounts. Everything else (reading, writing, memory) is left to the
namespaces and rlimits. Where libseccomp is missing, :func:`available` is False and the sandbox
says so in its isolation level.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_NE = 1

_DENIED = (
    "fork",
    "vfork",
    "clone",
    "clone3",
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "socket",
    "socketpair",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
)
_OWN_PID_ONLY = ("kill", "tkill", "tgkill")
"""Signals: allowed only with the caller's own pid as the first argument."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_load.restype = ctypes.c_int
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


_LIB = _load() if os.name == "posix" else None


def available() -> bool:
    """True when libseccomp can be loaded here (Linux with libseccomp2 installed)."""
    return _LIB is not None


def apply() -> None:
    """Install the filter on this process (and its future children); OSError if it fails."""
    if _LIB is None:
        raise OSError(errno.ENOSYS, "libseccomp is not available")
    ctx = _LIB.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    try:
        deny = _ACT_ERRNO | errno.EPERM
        for name in _DENIED:
            number = _LIB.seccomp_syscall_resolve_name(name.encode())
            if number < 0:  # this architecture has no such call (fork on arm64)
                continue
            _check(_LIB.seccomp_rule_add_array(ctx, deny, number, 0, None), name)
        not_me = (_ArgCmp * 1)(_ArgCmp(0, _CMP_NE, os.getpid(), 0))
        for name in _OWN_PID_ONLY:
            number = _LIB.seccomp_syscall_resolve_name(name.encode())
            _check(_LIB.seccomp_rule_add_array(ctx, deny, number, 1, not_me), name)
        _check(_LIB.seccomp_load(ctx), "seccomp_load")
    finally:
        _LIB.seccomp_release(ctx)


def _check(code: int, what: str) -> None:
    if code < 0:
        raise OSError(-code, f"seccomp: {what}: {os.strerror(-code)}")
