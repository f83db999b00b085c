"""Where python graders run: bubblewrap's namespaces when this machine has them, else plain.

`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the sandbox under Flatpak)
starts the grader fork server in its own user, PID, network, mount, IPC, UTS and cgroup
namespaces, as uid 65534 with no capabilities and no-new-privileges, further user namespaces
disabled. Its file system is a read-only view of the interpreter, its packages and the system
libraries, plus a private ``/tmp`` (a size-limited tmpfs), a fresh ``/proc`` that shows only the
sandbox's own processes, and a minimal ``/dev``: no home directory, no ``/etc``, no shell, no
project files, no network (not even the host's loopback). Its environment is built from nothing.

Running as root (CI, this kind of container) ``bwrap --unshare-all`` works without a setuid
binary: bwrap creates the user namespace itself, and the sandbox's uid 65534 is mapped to the
host's uid 0 *without any capability*. That is why new processes are stopped by seccomp (see
:mod:`rftkit._grader_seccomp`) rather than by ``RLIMIT_NPROC``, which the kernel does not apply
to host uid 0. A container that forbids user namespaces or mounts (Docker's default profile)
makes the probe fail; the sandbox then runs graders without namespaces and says so.

Example::

    >>> isolation_level()  # doctest: +SKIP
    'namespaces (bubblewrap) + seccomp'
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import rftkit
from rftkit import _grader_seccomp

NAMESPACES = "namespaces (bubblewrap)"
IN_PROCESS = "in-process checks only (not a security boundary)"
SANDBOX_UID = 65534
_THREADS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class IsolationUnavailable(RuntimeError):
    """The sandbox was asked to require namespaces and this machine cannot provide them."""


def _read_only_paths() -> list[str]:
    """The interpreter, its packages and rftkit, each once (no path inside another)."""
    wanted = {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}
    wanted.update(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        wanted.add(site.getusersitepackages())
    wanted.add(str(Path(rftkit.__file__).resolve().parent))
    wanted.add(str(Path(sys.executable).parent))
    chosen: list[str] = []
    for path in sorted(os.path.realpath(p) for p in wanted if os.path.isdir(p)):
        if not any(path == c or path.startswith(c.rstrip("/") + "/") for c in chosen):
            chosen.append(path)
    return chosen


def _system_libraries() -> list[str]:
    """Bind or link the shared-library directories the interpreter's binary loads from."""
    args: list[str] = []
    for path in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib"):
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ("/lib", "/lib64", "/lib32"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(command: list[str], tmp_bytes: int) -> list[str]:
    """``command`` wrapped in bubblewrap with the view and namespaces described above."""
    package_root = str(Path(rftkit.__file__).resolve().parent.parent)
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--cap-drop", "ALL",
        "--die-with-parent",  # killing bwrap (or this process) kills everything inside
        "--new-session",
        "--hostname", "grader",
    ]  # fmt: skip
    args += _system_libraries()
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    # After the private /tmp, so an interpreter or checkout under /tmp (a CI clone) stays visible.
    for path in _read_only_paths():
        args += ["--ro-bind", path, path]
    args += ["--chdir", "/tmp", "--clearenv"]
    env = {"PATH": "/nonexistent", "HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONPATH": package_root}
    env.update(dict.fromkeys(_THREADS_ENV, "1"))
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *command]


def thread_env() -> dict[str, str]:
    """Numeric libraries keep to one thread (a grader child may not start threads)."""
    return dict.fromkeys(_THREADS_ENV, "1")


@functools.cache
def namespaces_unavailable() -> str | None:
    """Why bubblewrap cannot run a grader here, or None when it can (probed once per process)."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are Linux-only (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    try:
        done = subprocess.run(
            bwrap_command([sys.executable, "-c", "pass"], 1024**2),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"PATH": os.defpath},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    if done.returncode != 0:
        return f"bwrap failed here: {done.stderr.strip()[:300] or done.returncode}"
    return None


def isolation_level() -> str:
    """What a python grader started now would run under, in words."""
    if namespaces_unavailable() is not None:
        return IN_PROCESS
    return NAMESPACES + (" + seccomp" if _grader_seccomp.available() else "")
