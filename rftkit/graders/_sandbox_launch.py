"""Start bubblewrap as an unprivileged user when the caller is root (CI, containers).

Run by :class:`rftkit.graders.sandbox.PythonSandbox` as ``python -I _sandbox_launch.py SPEC --
BWRAP ARGS...`` when ``os.geteuid() == 0``. bubblewrap maps the sandbox's uid to the uid that
started it, so started by root every process inside would be host root (without capabilities, but
root for every file-ownership check, ``/proc/sys`` and the kernel's core-dump helper included).
This launcher drops to ``SPEC["uid"]``/``SPEC["gid"]`` (``nobody``) first, with no supplementary
groups; the kernel clears every capability on that change, and bubblewrap then builds the sandbox
with an unprivileged user namespace whose only uid is ``nobody`` on the host.

Paths the sandbox needs but ``nobody`` cannot reach (an interpreter under ``/root``, mode 700) are
made reachable first, in a mount namespace private to this process and its sandbox: each directory
``nobody`` cannot search (``SPEC["reach"]``: directory -> the needed paths below it) is covered with
an empty tmpfs holding only bind mounts of the needed paths. The host's mounts
and permissions are not changed. Standard library only: it runs before anything is imported.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

_CLONE_NEWNS = 0x00020000
_MS_BIND, _MS_REC, _MS_PRIVATE, _MS_NOSUID, _MS_NODEV = 0x1000, 0x4000, 0x40000, 0x2, 0x4


def _check(code: int, what: str) -> None:
    if code != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def reach(covers: dict[str, list[str]]) -> None:
    """Make each needed path reachable through the directory that blocks it (see above)."""
    if not covers:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    _check(libc.unshare(_CLONE_NEWNS), "unshare")
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate")
    opened = {  # opened in this namespace (a bind needs that), before the covers hide them
        path: os.open(path, os.O_PATH | os.O_CLOEXEC)
        for paths in covers.values()
        for path in paths
    }
    for cover, paths in covers.items():
        flags = _MS_NOSUID | _MS_NODEV
        _check(libc.mount(b"tmpfs", cover.encode(), b"tmpfs", flags, b"mode=0755,size=1m"), cover)
        for path in paths:
            if os.path.isdir(f"/proc/self/fd/{opened[path]}"):
                os.makedirs(path, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            source = f"/proc/self/fd/{opened[path]}".encode()
            _check(libc.mount(source, path.encode(), None, _MS_BIND | _MS_REC, None), path)
    for fd in opened.values():
        os.close(fd)


def main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    command = argv[argv.index("--") + 1 :]
    reach(spec["reach"])
    os.setgroups([])
    os.setresgid(spec["gid"], spec["gid"], spec["gid"])
    os.setresuid(spec["uid"], spec["uid"], spec["uid"])
    if os.geteuid() == 0 or os.getegid() == 0:
        raise SystemExit("could not drop root before starting the sandbox")
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
