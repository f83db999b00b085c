"""Allow-list seccomp filters for the grader sandbox, built with libseccomp (the library behind
Docker's and systemd's filters) through ctypes, since no Python binding for it is packaged for pip.

Two filters, both default-deny (``EPERM`` for every system call not listed):

- :func:`server_program` is the fork server's (pid 1 of the sandbox), compiled to BPF here and
  installed by bubblewrap itself (``--seccomp FD``) before the server's interpreter starts, so no
  process of the sandbox ever runs unfiltered. It allows what a Python process needs plus what the
  server does for each call: fork, a private mount namespace and ``/tmp``, dropping capabilities,
  loading the child's filter, waiting and killing through pidfds.
- :class:`ChildFilter` is installed by each grader child on top (filters stack; the stricter
  wins): reading and writing files, memory, time, and signals, limits and affinity **only for the
  caller itself** (``kill``/``tgkill``/``rt_sigqueueinfo`` with its own pid, ``prlimit64`` with
  pid 0 or its own). Nothing else: no processes or threads, sockets, tracing, namespaces, mounts,
  ``io_uring``, ``setpriority``, SysV IPC, ``memfd_create``, keyrings, BPF.

A filter cannot be removed, so grader code cannot undo it. Where libseccomp is missing,
:func:`available` is False and the sandbox says so in its isolation level.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct

_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_EQ = 4
_ATTR_OPTIMIZE = 8  # SCMP_FLTATR_CTL_OPTIMIZE: 2 = a binary tree of system calls, not a list
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_BPF_JEQ_K = 0x15
_INSTRUCTION = struct.Struct("=HBBI")
PID_PLACEHOLDER = 0x7E3A91C5
"""Stands for the child's pid in the compiled child filter (above any pid the kernel hands out);
each child patches in its own, so the filter is compiled once per fork server, not per call."""

CHILD_SYSCALLS = (
    # files: what the namespaces let the child see, writes only in its own /tmp
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "open", "openat", "openat2", "creat", "close", "close_range",
    "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "readlink",
    "readlinkat", "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "flock", "fsync",
    "fdatasync", "ftruncate", "truncate", "fallocate", "fadvise64", "mkdir", "mkdirat",
    "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat",
    "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "fchown", "utime", "utimes",
    "utimensat", "umask", "mknod", "mknodat", "sendfile", "copy_file_range", "splice",
    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "ioctl",
    "select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    # memory
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "msync", "mbind",
    "get_mempolicy", "set_mempolicy", "membarrier",
    # signals to itself, timers, time
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "sigaltstack", "alarm", "setitimer", "getitimer", "pause",
    "restart_syscall", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime", "clock_gettime",
    "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "times",
    # who and where it is
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "getgroups", "getpgrp", "getsid", "uname", "sysinfo", "getrandom",
    "getrusage", "getrlimit", "getcpu", "sched_yield", "capget",
    # the runtime
    "futex", "set_robust_list", "set_tid_address", "rseq", "arch_prctl", "exit", "exit_group",
)  # fmt: skip

_SELF_ONLY = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
"""Signals: the first argument must be this process's pid (not 0, its process group, which the
other calls' children share)."""
_SELF_OR_ZERO = ("prlimit64", "sched_getaffinity", "sched_getparam", "sched_getscheduler")
"""Limits and scheduling: pid 0 (itself) or its own pid."""
_PRCTL_ALLOWED = (3, 15, 16, 21, 23, 39, 0x53564D41)
"""PR_GET_DUMPABLE, PR_SET_NAME, PR_GET_NAME, PR_GET_SECCOMP, PR_CAPBSET_READ,
PR_GET_NO_NEW_PRIVS, PR_SET_VMA (glibc names its anonymous mappings)."""

SERVER_SYSCALLS = (
    "execve", "clone", "wait4", "waitid", "pidfd_open", "pidfd_send_signal", "kill", "tgkill",
    "unshare", "mount", "umount2", "capset", "prctl", "seccomp", "prlimit64",
    "sched_getaffinity", "recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown", "getsockopt",
    "setsockopt", "getsockname", "getpeername", "setsid", "setpgid",
)  # fmt: skip
"""What the fork server does beyond a grader child (its own code only, never a grader's)."""


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
    lib.seccomp_export_bpf.restype = ctypes.c_int
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.restype = ctypes.c_int
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    return lib


_LIB = _load() if os.name == "posix" else None


def available() -> bool:
    """True when libseccomp can be loaded here (Linux with libseccomp2 installed)."""
    return _LIB is not None


def _build(pid: int | None) -> int:
    """A libseccomp context: the child's allow-list, limited to ``pid`` for the calls that name
    a process; with ``pid=None`` the server's, which adds :data:`SERVER_SYSCALLS`."""
    if _LIB is None:
        raise OSError(errno.ENOSYS, "libseccomp is not available")
    ctx = _LIB.seccomp_init(_ACT_ERRNO | errno.EPERM)
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    try:
        _LIB.seccomp_attr_set(ctx, _ATTR_OPTIMIZE, 2)  # older libseccomp: a list, still correct
        allowed = CHILD_SYSCALLS + (SERVER_SYSCALLS if pid is None else ())
        for name in allowed:
            _rule(ctx, _ACT_ALLOW, name)
        if pid is None:  # glibc falls back to clone when clone3 is "not implemented"
            _rule(ctx, _ACT_ERRNO | errno.ENOSYS, "clone3")
        if pid is not None:
            for name in _SELF_ONLY:
                _rule(ctx, _ACT_ALLOW, name, (0, pid))
            for name in _SELF_OR_ZERO:
                for value in (0, pid):
                    _rule(ctx, _ACT_ALLOW, name, (0, value))
            for option in _PRCTL_ALLOWED:
                _rule(ctx, _ACT_ALLOW, "prctl", (0, option))
    except BaseException:
        _LIB.seccomp_release(ctx)
        raise
    return ctx


def _rule(ctx: int, action: int, name: str, equal: tuple[int, int] | None = None) -> None:
    number = _LIB.seccomp_syscall_resolve_name(name.encode())
    if number < 0:  # this architecture has no such call (open on arm64)
        return
    if equal is None:
        _check(_LIB.seccomp_rule_add_array(ctx, action, number, 0, None), name)
        return
    compare = (_ArgCmp * 1)(_ArgCmp(equal[0], _CMP_EQ, equal[1], 0))
    _check(_LIB.seccomp_rule_add_array(ctx, action, number, 1, compare), name)


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


class ChildFilter:
    """The grader child's filter, compiled once (in the fork server) with
    :data:`PID_PLACEHOLDER` for the pid; :meth:`install` patches in the child's own pid and loads
    it, which costs a few system calls per call instead of a compilation."""

    def __init__(self) -> None:
        self.program = bytearray(_export(_build(PID_PLACEHOLDER)))
        self.pid_offsets = [
            offset
            for offset in range(0, len(self.program), _INSTRUCTION.size)
            if _INSTRUCTION.unpack_from(self.program, offset)[0] == _BPF_JEQ_K
            and _INSTRUCTION.unpack_from(self.program, offset)[3] == PID_PLACEHOLDER
        ]
        if not self.pid_offsets:
            raise OSError(errno.EINVAL, "seccomp: the compiled filter does not compare the pid")
        self.libc = ctypes.CDLL(None, use_errno=True)

    def install(self) -> None:
        """Load the filter for this process (a forked child); OSError if it fails."""
        pid = os.getpid()
        for offset in self.pid_offsets:
            struct.pack_into("=I", self.program, offset + 4, pid)
        fprog = _Program(len(self.program) // _INSTRUCTION.size, bytes(self.program))
        if self.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl: no new privileges")
        pointer = ctypes.c_void_p(ctypes.addressof(fprog))
        if self.libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, pointer, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl: installing the seccomp filter")


def server_program() -> bytes:
    """The fork server's filter as a BPF program, for ``bwrap --seccomp FD``."""
    return _export(_build(None))


def _export(ctx: int) -> bytes:
    """The context compiled to BPF (released here)."""
    read_fd, write_fd = os.pipe()
    try:
        _check(_LIB.seccomp_export_bpf(ctx, write_fd), "seccomp_export_bpf")
        os.close(write_fd)
        write_fd = -1
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        _LIB.seccomp_release(ctx)
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def _check(code: int, what: str) -> None:
    if code < 0:
        raise OSError(-code, f"seccomp: {what}: {os.strerror(-code)}")
