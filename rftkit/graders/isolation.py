"""Where python graders run: bubblewrap's namespaces when this machine has them; otherwise nowhere,
unless the user opts in to running them unisolated.

`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the sandbox under Flatpak)
starts the grader fork server as pid 1 of its own user, PID, network, mount, IPC, UTS and cgroup
namespaces, further user namespaces disabled, no-new-privileges set, and a default-deny seccomp
filter installed by bubblewrap before the server's first instruction
(:mod:`rftkit.graders._sandbox_seccomp`).

- **Never root.** Inside, everything runs as uid 65534. bubblewrap maps that uid to the uid that
  started it, so when the caller is root (CI, containers) :mod:`rftkit.graders._sandbox_launch`
  first drops to ``nobody`` (uid and gid 65534, no groups, no capabilities) and bubblewrap builds
  the namespaces from there: every process of the sandbox is ``nobody`` on the host, so no
  file-ownership check passes as root and ``/proc/sys`` is not writable (bubblewrap also mounts it
  read-only).
- **What it sees.** A read-only root: the interpreter, its packages (this project's own package
  and ``tools_service`` masked when installed there) and the system libraries; a fresh ``/proc``
  showing only the sandbox's processes; a read-only minimal ``/dev``. No home directory, no
  ``/etc``, no shell, no project files, no network (not even the host's loopback), an environment
  built from nothing. The only project files inside are the fork server and its filter, bound into
  an otherwise empty ``rftkit.graders`` package that leaves ``sys.path`` before any grader runs;
  Python is started with ``-I``, so neither the current directory nor ``PYTHON*`` variables reach
  ``sys.path``.
- **One call, one world.** Each call's child mounts its own tmpfs on ``/tmp`` (``/scratch`` when
  the interpreter itself lives under ``/tmp``), capped at ``disk_bytes`` and
  :data:`~rftkit.graders._sandbox_zygote.MAX_INODES` files, in a mount namespace of its own: no
  other call sees it, and the kernel frees it when the call's process ends.
- **Limits.** Per call: address space, file size, CPU time, no new processes or threads (seccomp),
  the tmpfs caps, and the wall clock (enforced by the caller). cgroups are not used: on a machine
  where this process could create a cgroup v2 with the memory and pids controllers, a kernel-level
  cap on the sandbox's total memory would add to these; :func:`isolation_details` says what holds.

A container that forbids user namespaces or mounts (Docker's default profile) makes the probe
fail. Python graders other than rftkit's own (:mod:`rftkit.graders.sources`, which are this
package's code) are then refused (:class:`IsolationUnavailable`, with how to install isolation)
unless the user opts in with ``RFTKIT_UNISOLATED_GRADERS=1`` (or ``require_isolation=False`` in
code); an unisolated sandbox says so on every start.

Example::

    >>> isolation_level()  # doctest: +SKIP
    'namespaces (bubblewrap) + seccomp'
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import site
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rftkit.errors import RFTKitError
from rftkit.graders import _sandbox_launch, _sandbox_seccomp, _sandbox_zygote

NAMESPACES = "namespaces (bubblewrap)"
IN_PROCESS = "in-process checks only (not a security boundary)"
SANDBOX_UID = 65534
UNISOLATED_ENV = "RFTKIT_UNISOLATED_GRADERS"
"""Set to ``1`` to let python graders run without namespaces where bubblewrap cannot run."""
HOW_TO_ISOLATE = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
    "bubblewrap) on Linux with user namespaces enabled; or, only for graders you wrote yourself, "
    f"set {UNISOLATED_ENV}=1 to run them with in-process checks (not a security boundary)"
)
BOOT_DIR = "/sandbox"
"""Where the fork server's two modules are bound inside, as package ``rftkit``."""
_THREADS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_MASKED_PACKAGES = ("rftkit", "tools_service")


class IsolationUnavailable(RuntimeError, RFTKitError):
    """Python graders need namespaces and this machine cannot provide them."""


def _read_only_paths() -> list[str]:
    """The interpreter and its packages, each once (no path inside another)."""
    wanted = {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}
    wanted.update(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        wanted.add(site.getusersitepackages())
    wanted.add(str(Path(sys.executable).parent))
    wanted.add(str(Path(sys.executable).resolve().parent))
    chosen: list[str] = []
    for path in sorted(os.path.realpath(p) for p in wanted if os.path.isdir(p)):
        if not any(path == c or path.startswith(c.rstrip("/") + "/") for c in chosen):
            chosen.append(path)
    return chosen


def _masked(paths: list[str]) -> list[str]:
    """This project's packages where they sit inside a bound directory (a non-editable install)."""
    found = []
    for directory in site.getsitepackages() + [site.getusersitepackages()]:
        real = os.path.realpath(directory)
        if any(real == p or real.startswith(p + "/") for p in paths):
            found += [os.path.join(real, n) for n in _MASKED_PACKAGES]
    return [p for p in found if os.path.isdir(p)]


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


def scratch_dir(paths: list[str]) -> str:
    """Each call's private tmpfs: ``/tmp``, unless a bound path (a CI clone's venv) is under it."""
    under_tmp = any(p == "/tmp" or p.startswith("/tmp/") for p in paths)
    return "/scratch" if under_tmp else "/tmp"


def _boot_files() -> dict[str, str]:
    """Inside path -> host path: the fork server and its filter as package ``rftkit.graders``
    (both ``__init__`` files empty inside)."""
    package = Path(_sandbox_zygote.__file__).resolve().parent
    return {
        f"{BOOT_DIR}/rftkit/__init__.py": os.devnull,
        f"{BOOT_DIR}/rftkit/graders/__init__.py": os.devnull,
        **{
            f"{BOOT_DIR}/rftkit/graders/{name}.py": str(package / f"{name}.py")
            for name in ("_sandbox_zygote", "_sandbox_seccomp")
        },
    }


def bwrap_command(command: list[str], seccomp_fd: int | None) -> list[str]:
    """``command`` wrapped in bubblewrap with the view and namespaces described above."""
    paths = _read_only_paths()
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--cap-add", "CAP_SYS_ADMIN",  # in the sandbox's user namespace only: per-call mounts
        "--as-pid-1",  # the fork server is pid 1: no unfiltered bwrap init inside
        "--die-with-parent",  # killing bwrap (or this process) kills everything inside
        "--new-session",
        "--hostname", "grader",
    ]  # fmt: skip
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += _system_libraries()
    args += ["--proc", "/proc", "--dev", "/dev", "--dir", scratch_dir(paths)]
    for path in paths:
        args += ["--ro-bind", path, path]
    for path in _masked(paths):
        args += ["--tmpfs", path, "--remount-ro", path]
    for inside, host in _boot_files().items():
        args += ["--ro-bind", host, inside]
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/", "--clearenv"]
    env = {"PATH": "/nonexistent", "HOME": "/nonexistent", "TMPDIR": scratch_dir(paths)}
    env.update(thread_env())
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *command]


def thread_env() -> dict[str, str]:
    """Numeric libraries keep to one thread (a grader child may not start threads)."""
    return dict.fromkeys(_THREADS_ENV, "1")


def _blocking_dir(path: str, uid: int) -> str | None:
    """The first directory above ``path`` that ``uid`` (not in its groups) cannot search."""
    current = "/"
    for part in Path(path).parts[1:-1]:
        current = os.path.join(current, part)
        info = os.stat(current)
        if info.st_uid != uid and not info.st_mode & stat.S_IXOTH:
            return current
    return None


def _covers(paths: list[str]) -> dict[str, list[str]]:
    """Directory nobody cannot search -> the needed paths below it (see _sandbox_launch)."""
    covers: dict[str, list[str]] = {}
    for path in paths:
        blocking = _blocking_dir(path, SANDBOX_UID)
        if blocking is not None:
            covers.setdefault(blocking, []).append(path)
    return covers


@dataclass
class Launch:
    """How to start a command in the sandbox: ``argv`` with ``fds`` passed; close when started."""

    argv: list[str]
    fds: list[int] = field(default_factory=list)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def sandbox_launch(command: list[str]) -> Launch:
    """``command`` in bubblewrap, through :mod:`rftkit.graders._sandbox_launch` when root."""
    seccomp_fd = None
    if _sandbox_seccomp.available():
        seccomp_fd = os.memfd_create("grader-seccomp")  # closed by Launch.close
        os.write(seccomp_fd, _sandbox_seccomp.server_program())
        os.lseek(seccomp_fd, 0, os.SEEK_SET)
    argv = bwrap_command(command, seccomp_fd)
    if os.geteuid() == 0:
        needed = _read_only_paths() + list(_boot_files().values()) + [argv[0]]
        spec = {"uid": SANDBOX_UID, "gid": SANDBOX_UID, "reach": _covers(needed)}
        launcher = os.path.realpath(_sandbox_launch.__file__)
        argv = [sys.executable, "-I", launcher, json.dumps(spec), "--", *argv]
    return Launch(argv, [seccomp_fd] if seccomp_fd is not None else [])


def zygote_command(control_fd: int) -> list[str]:
    """The fork server's command line inside the sandbox."""
    scratch = scratch_dir(_read_only_paths())
    boot = [sys.executable, "-I", "-c", _sandbox_zygote.BOOT, BOOT_DIR]
    return [*boot, str(control_fd), "--private-tmp", scratch]


_PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x20000) or libc.mount(b"tmpfs", sys.argv[1].encode(), b"tmpfs", 6, b"size=4096"):
    sys.exit(f"no per-call /tmp here: mount: errno {ctypes.get_errno()}")
"""
"""What each call's child does first (its own mount namespace and tmpfs): an AppArmor or
container profile that lets bubblewrap start but denies that must count as no isolation."""


@functools.cache
def namespaces_unavailable() -> str | None:
    """Why bubblewrap cannot run a grader here, or None when it can (probed once per process)."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are Linux-only (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    launch = sandbox_launch([sys.executable, "-I", "-c", _PROBE, scratch_dir(_read_only_paths())])
    try:
        done = subprocess.run(
            launch.argv,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"PATH": os.defpath},
            pass_fds=launch.fds,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    finally:
        launch.close()
    if done.returncode != 0:
        return f"bwrap failed here: {done.stderr.strip()[:300] or done.returncode}"
    return None


def unisolated_allowed() -> bool:
    """Whether the user opted in (``RFTKIT_UNISOLATED_GRADERS=1``) to graders without namespaces."""
    return os.environ.get(UNISOLATED_ENV, "").strip().lower() in ("1", "true", "yes")


def isolation_level() -> str:
    """What a python grader started now would run under, in words."""
    if namespaces_unavailable() is not None:
        return IN_PROCESS
    return NAMESPACES + (" + seccomp" if _sandbox_seccomp.available() else "")


def isolation_details() -> list[str]:
    """What holds on this machine, one line each (for a README, a log, or a bug report)."""
    reason = namespaces_unavailable()
    if reason is not None:
        refused = "allowed by opt-in" if unisolated_allowed() else "refused"
        return [
            f"no namespaces: {reason}",
            f"python graders other than rftkit's own: {refused} ({UNISOLATED_ENV}); unisolated "
            "they get rlimits, a "
            "filtered environment, seccomp where available and an audit hook: hostile code "
            "can get around these",
        ]
    lines = [
        "namespaces: user, pid, network, mount, ipc, uts, cgroup (bubblewrap)",
        f"host uid of every sandbox process: {SANDBOX_UID if os.geteuid() == 0 else os.geteuid()}"
        + (" (dropped from root)" if os.geteuid() == 0 else ""),
        "seccomp allow-list on every process, pid 1 included"
        if _sandbox_seccomp.available()
        else "no seccomp (libseccomp missing): no new processes is then only RLIMIT_NPROC",
        "per call: private tmpfs /tmp (bytes and inodes capped, freed with the call), "
        "address-space, file-size and CPU rlimits, wall-clock limit",
        "cgroups: not used (memory is bounded per call by rlimits and the tmpfs cap, not in "
        "total)",
    ]
    return lines
