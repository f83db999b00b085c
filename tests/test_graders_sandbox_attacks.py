"""Issue #26's attacks on the python-grader sandbox, as root, each as a regression test: the grader
is hostile, switches the in-process hook off first, and must fail at the kernel's boundary."""

import contextlib
import json
import math
import os
import platform
import threading
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rftkit.graders import SandboxLimits, run_grader, run_grader_many
from rftkit.graders.isolation import namespaces_unavailable
from rftkit.graders.result import GraderFailure
from rftkit.graders.sandbox import PythonSandbox, _parse_line

LIMITS = SandboxLimits(timeout_s=10.0, memory_bytes=512 * 1024**2, disk_bytes=64 * 1024**2)

TAMPER = """
import sys
for _module in list(sys.modules.values()):
    if hasattr(_module, "_FORBIDDEN"):  # switch the audit hook's checks off from Python
        _module._FORBIDDEN = ("nothing.",)
        _module._PATH_EVENTS = {}
        _module._inside = lambda *args: True
"""

SYSCALLS_X86_64 = {"kill": 62, "setpriority": 141, "rt_sigqueueinfo": 129, "prlimit64": 302,
                   "io_uring_setup": 425}  # fmt: skip


@pytest.fixture(scope="module")
def box():
    reason = namespaces_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run python graders in namespaces, but {reason}")
        pytest.skip(reason)
    sandbox = PythonSandbox(LIMITS, require_isolation=True)
    yield sandbox
    sandbox.close()


def _processes() -> dict[int, tuple[int, str]]:
    """Host pid -> (parent pid, pid namespace) for every process this machine shows."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as file:
                    parent = int(file.read().rsplit(")", 1)[1].split()[1])
                found[int(entry)] = (parent, os.readlink(f"/proc/{entry}/ns/pid"))
    return found


def _sandbox_processes(sandbox: PythonSandbox) -> dict[int, str]:
    """Host pid -> pid namespace of every process below the sandbox's bubblewrap."""
    table, below, frontier = _processes(), {}, {sandbox._server.pid}
    while frontier:
        frontier = {p for p, (parent, _) in table.items() if parent in frontier} - set(below)
        below.update({p: table[p][1] for p in frontier})
    return below


def _status(pid: int, field: str) -> list[int]:
    """A numeric line of the host's /proc/<pid>/status, e.g. ``Uid`` or ``Seccomp``."""
    with open(f"/proc/{pid}/status") as file:
        line = next(x for x in file if x.startswith(f"{field}:"))
    return [int(x, 16 if field.startswith("Cap") else 10) for x in line.split()[1:]]


def test_core_pattern_is_not_writable_and_no_sandbox_process_is_host_root(box):
    """Row 1: grader code wrote /proc/sys/kernel/core_pattern as host root. It writes back the
    value already there (harmless if it got through) and reports whether the write worked."""
    source = TAMPER + (
        "import time\n"
        "def grade(s, i):\n"
        "    try:\n"
        "        now = open('/proc/sys/kernel/core_pattern').read()\n"
        "        with open('/proc/sys/kernel/core_pattern', 'w') as f:\n"
        "            f.write(now)\n"
        "        wrote = 1.0\n"
        "    except OSError:\n"
        "        wrote = 0.0\n"
        "    time.sleep(1.5)  # the test looks at the host's process table meanwhile\n"
        "    return wrote\n"
    )
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(box.run(source, {}, {})))
    worker.start()
    time.sleep(0.8)
    processes = _sandbox_processes(box)
    worker.join()
    assert outcome == [0.0]
    ours = os.readlink("/proc/self/ns/pid")
    inside = [pid for pid, namespace in processes.items() if namespace != ours]
    assert len(inside) >= 2  # the fork server (pid 1 inside) and the grader's child at least
    for pid in processes:  # bubblewrap's monitor outside included
        with contextlib.suppress(FileNotFoundError):
            assert 0 not in _status(pid, "Uid") + _status(pid, "Gid"), pid
            assert _status(pid, "CapEff") == [0] or pid in inside, pid
    for pid in inside:  # every process of the sandbox, pid 1 included, is filtered
        with contextlib.suppress(FileNotFoundError):
            assert _status(pid, "Seccomp") == [2] and _status(pid, "NoNewPrivs") == [1], pid


@pytest.mark.skipif(platform.machine() != "x86_64", reason="system call numbers for x86_64")
def test_pid_1_and_other_calls_cannot_be_reached(box):
    """Row 2 and 4: /proc/1/mem of the fork server, and signals, limits, priority and io_uring
    on every other process the grader can see (pid 1 and a concurrent call) all fail; the
    concurrent call finishes with its own score."""
    victim = (
        "import time\ndef grade(s, i):\n"
        "    end = time.monotonic() + 2.5\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "    return 0.25\n"
    )
    attack = TAMPER + (
        "import ctypes, os, signal\n"
        f"N = {SYSCALLS_X86_64!r}\n"
        "def grade(s, i):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    me = os.getpid()\n"
        "    done = []\n"
        "    try:\n"
        "        with open('/proc/1/mem', 'r+b') as mem:\n"
        "            done.append('mem')\n"
        "    except OSError:\n"
        "        pass\n"
        "    info = ctypes.create_string_buffer(128)\n"
        "    limit = (ctypes.c_uint64 * 2)(4, 4)\n"
        "    if libc.syscall(N['io_uring_setup'], 8, ctypes.create_string_buffer(120)) >= 0:\n"
        "        done.append('io_uring')\n"
        "    for pid in [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me]:\n"
        "        for name, args in [\n"
        "            ('kill', (pid, signal.SIGSTOP)),\n"
        "            ('rt_sigqueueinfo', (pid, signal.SIGKILL, info)),\n"
        "            ('prlimit64', (pid, 7, limit, None)),\n"
        "            ('setpriority', (0, pid, 19)),\n"
        "            ('kill', (0, signal.SIGKILL)),\n"
        "            ('kill', (-1, signal.SIGKILL)),\n"
        "        ]:\n"
        "            if libc.syscall(N[name], *args) == 0:\n"
        "                done.append(f'{name} {pid}')\n"
        "    return float(len(done)) if not done else 100.0 + len(done)\n"
    )
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(box.run(victim, {}, {})))
    worker.start()
    time.sleep(0.7)
    assert box.run(attack, {}, {}) == 0.0
    worker.join()
    assert outcome == [0.25]
    assert box.run("def grade(s, i):\n    return 0.5", {}, {}) == 0.5


def test_nothing_of_the_sandbox_outlives_close():
    """Row 2: after close(), no process of the sandbox is left on the host, even when a call
    was still running and had tried to kill its fork server."""
    if namespaces_unavailable() is not None:
        pytest.skip(namespaces_unavailable())
    sandbox = PythonSandbox(LIMITS, require_isolation=True)
    hostile = TAMPER + (
        "import os, signal\ndef grade(s, i):\n"
        "    for sig in (signal.SIGKILL, signal.SIGTERM):\n"
        "        try:\n"
        "            os.kill(1, sig)\n"
        "        except OSError:\n"
        "            pass\n"
        "    while True:\n"
        "        pass\n"
    )
    worker = threading.Thread(target=_quietly, args=(sandbox.run, hostile, {}, {}))
    worker.start()
    time.sleep(1.0)
    namespaces = set(_sandbox_processes(sandbox).values())
    assert namespaces and os.readlink("/proc/self/ns/pid") not in namespaces
    sandbox.close()
    worker.join(timeout=20)
    left = [pid for pid, (_, ns) in _processes().items() if ns in namespaces]
    assert left == []


def _quietly(function, *args):
    with contextlib.suppress(GraderFailure):
        function(*args)


def test_a_planted_module_in_tmp_is_not_imported_by_a_later_call(box):
    """Row 3: difflib.py planted in /tmp (sys.path[0]) was imported by an honest grader."""
    plant = TAMPER + (  # /scratch is the call's tmpfs when the venv itself lives under /tmp
        "import os\n"
        "def grade(s, i):\n"
        "    planted = 0\n"
        "    for where in ('/tmp', '/scratch', os.environ.get('TMPDIR', '/tmp'), '.'):\n"
        "        try:\n"
        "            with open(f'{where}/difflib.py', 'w') as f:\n"
        "                f.write('PLANTED = True\\n')\n"
        "            planted += 1\n"
        "        except OSError:\n"
        "            pass\n"
        "    return float(planted)\n"
    )
    assert box.run(plant, {}, {}) >= 1.0
    honest = (
        "import difflib, sys\n"
        "def grade(s, i):\n"
        "    assert not hasattr(difflib, 'PLANTED') and hasattr(difflib, 'SequenceMatcher')\n"
        "    assert '' not in sys.path and '/tmp' not in sys.path\n"
        "    return difflib.SequenceMatcher(None, s['output_text'], i['ref']).ratio()\n"
    )
    assert box.run(honest, {"output_text": "abc"}, {"ref": "abd"}) == pytest.approx(2 / 3)


def test_a_concurrent_calls_files_are_out_of_reach(box):
    """Row 9: a concurrent call's /tmp/grader-*/work.json was readable."""
    holder = (
        "import time\ndef grade(s, i):\n"
        "    open('work.json', 'w').write(i['secret'])\n"
        "    time.sleep(2.5)\n"
        "    return 1.0\n"
    )
    snoop = TAMPER + (
        "import os\n"
        "SKIP = {'.venv', '.git', 'site-packages'}  # read-only code (a clone under /tmp)\n"
        "def grade(s, i):\n"
        "    found = 0\n"
        "    pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "    inside = [f'/proc/{p}/{w}' for p in pids for w in ('root/tmp', 'cwd')]\n"
        "    roots = ['/tmp', '/scratch'] + inside\n"
        "    for root in roots:\n"
        "        for folder, dirs, files in os.walk(root, onerror=lambda e: None):\n"
        "            dirs[:] = [d for d in dirs if d not in SKIP]\n"
        "            if folder.startswith(('/proc', '/sys', '/dev')) and '/root/' not in folder:\n"
        "                continue\n"
        "            for name in files:\n"
        "                try:\n"
        "                    data = open(os.path.join(folder, name), 'rb').read(1 << 16)\n"
        "                    found += b'sk-other-call' in data\n"
        "                except OSError:\n"
        "                    pass\n"
        "    return float(found)\n"
    )
    outcome = []
    item = {"secret": "sk-other-call"}
    worker = threading.Thread(target=lambda: outcome.append(box.run(holder, {}, item)))
    worker.start()
    time.sleep(0.8)
    slow = SandboxLimits(timeout_s=60, memory_bytes=LIMITS.memory_bytes)
    assert box.run(snoop, {}, {}, slow) == 0.0
    worker.join()
    assert outcome == [1.0]


def _shmem_kib() -> int:
    with open("/proc/meminfo") as file:
        return int(next(x for x in file if x.startswith("Shmem:")).split()[1])


def test_filling_tmp_root_and_dev_is_capped_and_leaves_nothing(box):
    """Rows 5 and 6: 570 MB written to / and /dev past a 100 MB limit stayed in host memory, and
    a full shared /tmp failed the next honest call."""
    fill = TAMPER + (
        "import os\n"
        "def grade(s, i):\n"
        "    written = 0\n"
        "    for folder in ('/', '/dev', '/dev/shm', '/tmp', '/scratch'):\n"
        "        try:\n"
        "            with open(os.path.join(folder, 'fill'), 'wb') as f:\n"
        "                while True:\n"
        "                    f.write(b'x' * 1024**2)\n"
        "                    written += 1024**2\n"
        "        except OSError:\n"
        "            pass\n"
        "    return float(written)\n"
    )
    before = _shmem_kib()
    written = box.run(fill, {}, {})
    assert 0 < written <= LIMITS.disk_bytes
    # The call's tmpfs went with it (other processes on the host may move Shmem a little).
    assert _shmem_kib() - before < 16 * 1024
    honest = (
        "import os\n"
        "def grade(s, i):\n"
        "    open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'ok'), 'wb').write(b'y' * 10**6)\n"
        "    return 1.0\n"
    )
    assert box.run(honest, {}, {}) == 1.0


def test_many_files_are_capped_and_the_next_call_is_fast(box):
    """Row 7: 150k empty files cost 149 MB of kernel memory and stalled a concurrent call."""
    many = TAMPER + (
        "import os\n"
        "def grade(s, i):\n"
        "    made, where = 0, os.environ.get('TMPDIR', '/tmp')\n"
        "    try:\n"
        "        while made < 150_000:\n"
        "            open(os.path.join(where, f'f{made}'), 'w').close()\n"
        "            made += 1\n"
        "    except OSError:\n"
        "        pass\n"
        "    return float(made)\n"
    )
    made = box.run(many, {}, {}, SandboxLimits(timeout_s=60, memory_bytes=LIMITS.memory_bytes))
    assert 1_000 < made < 20_000  # the cap stopped it (and files could be made at all)
    started = time.monotonic()
    assert box.run("def grade(s, i):\n    return 1.0", {}, {}) == 1.0
    assert time.monotonic() - started < 2.0


def test_the_project_is_not_visible_inside(box):
    """The rftkit tree (reference labels included) was readable inside."""
    import rftkit

    project = os.path.dirname(os.path.dirname(os.path.abspath(rftkit.__file__)))
    source = TAMPER + (
        "import os, sys\n"
        "def grade(s, i):\n"
        # The project's own .venv (make's default) is bound read-only as the interpreter's.
        "    seen = [p for p in (i['project'], i['project'] + '/rftkit/course/reference_labels')\n"
        "            if os.path.exists(p) and set(os.listdir(p)) - {'.venv'}]\n"
        "    try:\n"
        "        import rftkit.graders\n"
        "        seen.append('rftkit.graders')\n"
        "    except ImportError:\n"
        "        pass\n"
        "    return float(len(seen))\n"
    )
    assert box.run(source, {}, {"project": project}) == 0.0


FORGE = (
    "import os\n"
    "def grade(s, i):\n"
    "    if 'line' not in i:\n"
    "        return 0.5\n"
    "    line = (i['line'] + '\\n').encode()\n"
    "    for fd in range(3, 64):\n"
    "        try:\n"
    "            os.write(fd, line)\n"
    "        except OSError:\n"
    "            pass\n"
    "    os._exit(0)\n"
)


def test_a_401_digit_reward_is_that_cases_error_and_the_batch_goes_on():
    """Row 8: an integer reward of 401 digits raised OverflowError and aborted run_grader_many.
    The forging case is the batch's last (index 2), so the cases before it are graded first."""
    grader = {"type": "python", "name": "forge", "source": FORGE}
    huge = '{"index": 2, "kind": "ok", "payload": 1' + "0" * 400 + "}"
    results = run_grader_many(grader, [("x", {}), ("x", {}), ("x", {"line": huge})])
    assert [r.reward for r in results] == [0.5, 0.5, 0.0]
    assert "too large" in results[2].metadata.errors.python_grader_runtime_error_details
    single = run_grader(grader, "x", {"line": huge.replace('"index": 2', '"index": 0')})
    assert single.reward == 0.0 and single.metadata.errors.python_grader_runtime_error


@settings(max_examples=300, deadline=None)
@example(b'{"index": 0, "kind": "ok", "payload": 1' + b"0" * 400 + b"}")
@example(b'{"index": 0, "kind": "ok", "payload": 1' + b"0" * 5000 + b"}")
@example(b'{"index": 0, "kind": "ok", "payload": 1e999}')
@example(b'{"index": 0, "kind": "ok", "payload": -Infinity}')
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda index, kind, payload: json.dumps(
                {"index": index, "kind": kind, "payload": payload}
            ).encode(),
            st.one_of(
                st.integers(0, 2), st.integers(), st.floats(), st.text(max_size=5), st.none()
            ),
            st.sampled_from(["ok", "error", "violation", "other"]),
            st.one_of(
                st.integers(min_value=-(10**500), max_value=10**500),
                st.integers(min_value=10**300, max_value=10**4000),
                st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=20),
                st.lists(st.integers(), max_size=3),
            ),
        ),
        st.from_regex(
            rb'\{"index": 0, "kind": "ok", "payload": -?[0-9]{1,500}(\.[0-9]+)?(e-?[0-9]{1,4})?\}',
            fullmatch=True,
        ),
    )
)
def test_the_result_line_parser_only_ever_fails_the_case(line):
    """Any line a child can write is a score, a failure for its case, or GraderFailure; never
    another exception in the caller."""
    try:
        index, kind, outcome = _parse_line(line, 3)
    except GraderFailure:
        return
    assert 0 <= index < 3 and kind in ("ok", "error", "violation")
    assert isinstance(outcome, GraderFailure) or math.isfinite(outcome)


def test_paths_nobody_cannot_reach_are_bound_through_a_cover(tmp_path, monkeypatch):
    """As root, bubblewrap runs as nobody: an interpreter under a mode-700 directory (pyenv under
    /root) is made reachable by the launcher's private cover, without changing the host."""
    import subprocess
    import sys

    from rftkit.graders import isolation

    if os.geteuid() != 0 or namespaces_unavailable() is not None:
        pytest.skip("needs root and bubblewrap")
    locked = tmp_path / "locked"
    inner = locked / "venv"
    inner.mkdir(parents=True)
    (inner / "marker.txt").write_text("reached")
    locked.chmod(0o700)
    ((cover, paths),) = isolation._covers([str(inner)]).items()  # pytest's root may be 700 too
    assert paths == [str(inner)] and str(locked).startswith(cover)
    real = isolation._read_only_paths()
    monkeypatch.setattr(isolation, "_read_only_paths", lambda: [*real, str(inner)])
    code = f"import os; print(open('{inner}/marker.txt').read(), os.getuid())"
    launch = isolation.sandbox_launch([sys.executable, "-I", "-c", code])
    try:
        done = subprocess.run(
            launch.argv, pass_fds=launch.fds, capture_output=True, text=True, timeout=60
        )
    finally:
        launch.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["reached", "65534"]
    assert oct(locked.stat().st_mode & 0o777) == "0o700"  # the host is unchanged


def test_isolation_details_say_what_holds_here():
    from rftkit.graders.isolation import isolation_details

    details = "\n".join(isolation_details())
    if namespaces_unavailable() is not None:
        assert "no namespaces" in details
        return
    assert "seccomp allow-list on every process, pid 1 included" in details
    expected = "65534 (dropped from root)" if os.geteuid() == 0 else str(os.geteuid())
    assert f"host uid of every sandbox process: {expected}" in details
    assert "cgroups: not used" in details
