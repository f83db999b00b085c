"""Python graders run in an isolated, limited child: each escape attempt is stopped, reported,
survived; the caller trusts nothing the child writes."""

import contextlib
import os
import socket
import subprocess
import sys
import tracemalloc

import pytest

from rftkit.graders import SandboxLimits, run_grader
from rftkit.graders import sandbox as sandbox_module
from rftkit.graders.isolation import IsolationUnavailable, namespaces_unavailable
from rftkit.graders.result import GraderFailure
from rftkit.graders.sandbox import MAX_LINE_BYTES, PythonSandbox

FAST = SandboxLimits(timeout_s=2.0, memory_bytes=512 * 1024**2)


@pytest.fixture(scope="module")
def sandbox():
    box = PythonSandbox(FAST)
    yield box
    box.close()


def _python(body: str) -> dict:
    return {"type": "python", "name": "p", "source": body}


def test_grade_gets_sample_and_item_as_dicts(sandbox):
    source = "def grade(sample, item):\n    return float(sample['output_text'] == item['ref'])"
    assert sandbox.run(source, {"output_text": "a"}, {"ref": "a"}) == 1.0
    assert sandbox.run(source, {"output_text": "b"}, {"ref": "a"}) == 0.0


def test_preloaded_libraries_and_temp_dir_writes_work(sandbox):
    source = (
        "import numpy as np\n"
        "def grade(sample, item):\n"
        "    open('scratch.txt', 'w').write('xyz')\n"
        "    return np.float64(len(open('scratch.txt').read()) / 4)\n"
    )
    assert sandbox.run(source, {}, {}) == 0.75


ESCAPES = {
    "infinite loop": ("def grade(s, i):\n    while True:\n        pass", "TimeoutError"),
    "sleep past the limit": ("import time\ndef grade(s, i):\n    time.sleep(60)", "TimeoutError"),
    "memory bomb": (
        "def grade(s, i):\n    x = []\n    while True:\n        x.append(bytearray(10**7))",
        "MemoryError",
    ),
    "socket": (
        "import socket\ndef grade(s, i):\n    socket.create_connection(('127.0.0.1', 9))",
        "sandbox: socket.",
    ),
    "socket error swallowed": (
        "import socket\ndef grade(s, i):\n    try:\n        socket.socket()\n"
        "    except Exception:\n        pass\n    return 1.0",
        "sandbox: socket.__new__",
    ),
    "subprocess": (
        "import subprocess\ndef grade(s, i):\n    subprocess.run(['true'])\n    return 1.0",
        "sandbox: subprocess.Popen",
    ),
    "os.system": (
        "import os\ndef grade(s, i):\n    os.system('true')\n    return 1.0",
        "os.system",
    ),
    "write outside temp": (
        "def grade(s, i):\n    open('/var/tmp/rftkit-sandbox-escape.txt', 'w').write('x')\n"
        "    return 1.0",
        "outside the grader's temp dir",
    ),
    "delete outside temp": (
        "import os\ndef grade(s, i):\n    os.remove('/var/tmp/nothing-here')\n    return 1.0",
        "os.remove",
    ),
    "raising its own limits": (
        "import resource\ndef grade(s, i):\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n    return 1.0",
        "resource.setrlimit",
    ),
    "ctypes": (
        "import ctypes\ndef grade(s, i):\n    ctypes.CDLL(None).getpid()\n    return 1.0",
        "ctypes.",
    ),
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_escape_is_stopped_and_reported_and_the_next_call_works(sandbox, name):
    source, reason = ESCAPES[name]
    # Filling 512 MB can take a while on a busy machine: the memory limit must hit first.
    limits = (
        SandboxLimits(timeout_s=30, memory_bytes=FAST.memory_bytes) if "memory" in name else None
    )
    with pytest.raises(GraderFailure) as info:
        sandbox.run(source, {}, {}, limits)
    assert info.value.flag == "python_grader_runtime_error"
    assert reason in info.value.details
    assert sandbox.run("def grade(s, i):\n    return 0.5", {}, {}) == 0.5
    assert not os.path.exists("/var/tmp/rftkit-sandbox-escape.txt")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("def grade(s, i):\n    return 1 / 0", "ZeroDivisionError"),
        ("def grade(s, i):\n    return 'yes'", "returned 'yes', not a number"),
        ("def grade(s, i):\n    return True", "not a number"),
        ("def grade(s, i):\n    return float('nan')", "nan"),
        ("x = 1", "defines no function grade"),
        ("def grade(s, i) return 1", "SyntaxError"),
    ],
)
def test_bad_graders_fail_with_details(sandbox, source, reason):
    with pytest.raises(GraderFailure) as info:
        sandbox.run(source, {}, {})
    assert reason in info.value.details


def test_no_secrets_in_the_grader_environment(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    box = PythonSandbox(FAST)  # started after the variable is set
    try:
        source = (
            "import os\ndef grade(s, i):\n"
            "    return float(len(os.environ.get('OPENAI_API_KEY', '')))"
        )
        assert box.run(source, {}, {}) == 0.0
        proc = (
            "def grade(s, i):\n"
            "    try:\n"
            "        return float(b'sk-test' in open('/proc/self/environ', 'rb').read())\n"
            "    except OSError:  # not readable at all under namespaces\n"
            "        return 0.0\n"
        )
        assert box.run(proc, {}, {}) == 0.0
    finally:
        box.close()


def test_run_grader_reports_the_flag_and_keeps_going():
    loop = _python("def grade(s, i):\n    while True:\n        pass")
    result = run_grader(loop, "x", {}, limits=SandboxLimits(timeout_s=1.0))
    assert result.reward == 0.0
    assert result.metadata.errors.python_grader_runtime_error
    assert "TimeoutError" in result.metadata.errors.python_grader_runtime_error_details
    ok = run_grader(_python("def grade(s, i):\n    return 0.25"), "x", {})
    assert ok.reward == 0.25 and ok.ok


def test_a_sample_that_is_not_json_is_a_server_error_not_a_crash(sandbox):
    import datetime

    with pytest.raises(GraderFailure) as info:
        sandbox.run("def grade(s, i):\n    return 1.0", {}, {"when": datetime.date(2025, 1, 1)})
    assert info.value.flag == "python_grader_server_error"
    assert "not JSON serializable" in info.value.details


def test_grader_output_and_prints_stay_in_the_child(sandbox, capfd):
    source = (
        "import os, sys\ndef grade(s, i):\n"
        "    print('noise')\n    sys.stderr.write('err')\n"
        "    os.write(1, b'raw-out')\n    os.write(2, b'raw-err')\n    return 1"
    )
    assert sandbox.run(source, {}, {}) == 1.0
    captured = capfd.readouterr()
    assert "noise" not in captured.out and "err" not in captured.err
    assert "raw-" not in captured.out + captured.err


def test_run_many_grades_in_order_and_survives_bad_cases(sandbox):
    source = (
        "import socket, time\n"
        "def grade(sample, item):\n"
        "    what = item['do']\n"
        "    if what == 'loop':\n"
        "        while True:\n"
        "            pass\n"
        "    if what == 'socket':\n"
        "        socket.socket()\n"
        "    if what == 'raise':\n"
        "        raise ValueError('bad item')\n"
        "    return float(len(sample['output_text']))\n"
    )
    plan = ["ok", "ok", "raise", "ok", "loop", "ok", "socket", "ok"]
    cases = [({"output_text": "x" * i}, {"do": what}) for i, what in enumerate(plan)]
    results = sandbox.run_many(source, cases)
    for i, (what, result) in enumerate(zip(plan, results, strict=True)):
        if what == "ok":
            assert result == float(i)
        else:
            assert isinstance(result, GraderFailure), (i, what, result)
    assert "ValueError: bad item" in results[2].details
    assert "TimeoutError" in results[4].details
    assert "socket.__new__" in results[6].details


def test_run_many_with_a_broken_source_fails_every_case(sandbox):
    results = sandbox.run_many("def grade(s, i) return 1", [({}, {})] * 3)
    assert all(isinstance(r, GraderFailure) and "SyntaxError" in r.details for r in results)


def test_the_time_limit_is_per_case_not_per_batch(sandbox):
    source = (
        "import time\ndef grade(s, i):\n"
        "    end = time.monotonic() + 0.3\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "    return 1.0\n"
    )
    limits = SandboxLimits(timeout_s=1.0, memory_bytes=FAST.memory_bytes)
    assert sandbox.run_many(source, [({}, {})] * 5, limits) == [1.0] * 5


def test_python_graders_work_in_a_process_with_fds_above_1023():
    """The rollout engine holds hundreds of sockets; select() would fail past fd 1023."""
    script = """
import os, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
assert max(held) > 1023
from rftkit.graders import run_grader
grader = {"type": "python", "name": "g", "source": "def grade(sample, item):\\n    return 0.75\\n"}
print(run_grader(grader, "x", {}).reward)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0.75"


# -- hostile graders (issue #15): each attack below worked against the audit-hook-only sandbox --

TAMPER = """
import sys
for _module in list(sys.modules.values()):
    if hasattr(_module, "_FORBIDDEN"):  # switch the audit hook's checks off from Python
        _module._FORBIDDEN = ("nothing.",)
        _module._PATH_EVENTS = {}
        _module._inside = lambda *args: True
"""
"""Prefix for attack graders: disable the second layer, so only the real isolation is left."""


def _require_namespaces() -> None:
    """Isolation tests skip only off CI: CI (CI=true) installs bubblewrap, so missing is a bug."""
    reason = namespaces_unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run python graders in namespaces, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def isolated():
    _require_namespaces()
    box = PythonSandbox(FAST, require_isolation=True)
    yield box
    box.close()


def test_the_sandbox_states_its_isolation(isolated):
    assert isolated.isolation_level().startswith("namespaces (bubblewrap)")


def test_without_namespaces_it_refuses_unless_the_user_opts_in(monkeypatch, capfd):
    """Issue #26: without bubblewrap the grader ran silently as root. Now a source from elsewhere
    is refused with how to install isolation; rftkit's own graders still run (they are this
    package's code); anything else runs only by a visible opt-in, printed on every start."""
    from rftkit.course.grader import course_grader

    monkeypatch.setattr(sandbox_module, "namespaces_unavailable", lambda: "no bwrap here")
    monkeypatch.delenv("RFTKIT_UNISOLATED_GRADERS", raising=False)
    custom = "def grade(s, i):\n    return 0.5"
    shipped = course_grader()["graders"]["evidence"]["source"]
    box = PythonSandbox(FAST)
    try:
        with pytest.raises(IsolationUnavailable, match="no bwrap here.*apt-get install bubblewrap"):
            box.run(custom, {}, {})
        item = {"reference_answer": "911.4"}
        assert box.run(shipped, {"output_text": "911.4", "output_tools": []}, item) >= 0.0
        assert "any other is refused" in capfd.readouterr().err
        monkeypatch.setenv("RFTKIT_UNISOLATED_GRADERS", "1")  # as notebook 03 does, later on
        assert box.run(custom, {}, {}) == 0.5
        assert "WITHOUT isolation" in capfd.readouterr().err
    finally:
        box.close()
    with pytest.raises(IsolationUnavailable, match="no bwrap here"):
        PythonSandbox(FAST, require_isolation=True)
    for box in (PythonSandbox(FAST), PythonSandbox(FAST, require_isolation=False)):
        try:
            assert box.isolation_level() == "in-process checks only (not a security boundary)"
            assert box.run(custom, {}, {}) == 0.5
        finally:
            box.close()
        assert "WITHOUT isolation" in capfd.readouterr().err


def test_the_callers_environment_is_out_of_reach(isolated):
    """A caller started with a secret (as a trainer with OPENAI_API_KEY is): the grader walks
    every /proc entry it can see, the caller's pid included, and finds nothing."""
    source = TAMPER + (
        "import os\n"
        "def grade(s, i):\n"
        "    seen = b''\n"
        "    for pid in [p for p in os.listdir('/proc') if p.isdigit()] + [str(i['caller'])]:\n"
        "        try:\n"
        "            seen += open(f'/proc/{pid}/environ', 'rb').read()\n"
        "        except OSError:\n"
        "            pass\n"
        "    return float(b'sk-fake-4242' in seen)\n"
    )
    caller = (
        "import os, sys\n"
        "from rftkit.graders import run_grader\n"
        "grader = {'type': 'python', 'name': 'g', 'source': sys.argv[1]}\n"
        "print(run_grader(grader, 'x', {'caller': os.getpid()}).reward)\n"
    )
    env = {**os.environ, "RFTKIT_FAKE_SECRET": "sk-fake-4242"}
    done = subprocess.run(
        [sys.executable, "-c", caller, source],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0.0"


def test_the_callers_memory_is_out_of_reach(isolated):
    source = TAMPER + (
        "def grade(s, i):\n"
        "    pid = i['caller']\n"
        "    try:\n"
        "        start = int(open(f'/proc/{pid}/maps').readline().split('-')[0], 16)\n"
        "        with open(f'/proc/{pid}/mem', 'rb') as mem:\n"
        "            mem.seek(start)\n"
        "            return float(len(mem.read(16)) > 0)\n"
        "    except OSError:\n"
        "        return 0.0\n"
    )
    assert isolated.run(source, {}, {"caller": os.getpid()}) == 0.0


def test_no_connection_even_after_tampering_with_the_hook(isolated):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.5)
        source = TAMPER + (
            "import socket\n"
            "def grade(s, i):\n"
            "    try:\n"
            "        socket.create_connection(('127.0.0.1', i['port']), timeout=2).close()\n"
            "        return 1.0\n"
            "    except OSError:\n"
            "        return 0.0\n"
        )
        assert isolated.run(source, {}, {"port": listener.getsockname()[1]}) == 0.0
        with pytest.raises(TimeoutError):
            listener.accept()


def test_no_process_even_through_posixsubprocess(isolated, tmp_path):
    marker = tmp_path / "started"
    source = TAMPER + (
        "import _posixsubprocess, os, subprocess\n"
        "def grade(s, i):\n"
        "    shell = [b'/bin/sh', b'-c', f'echo x > {i[\"marker\"]}'.encode()]\n"
        "    attempts = [\n"
        "        lambda: _posixsubprocess.fork_exec(\n"
        "            shell, [b'/bin/sh'], True, (), None, None, -1, -1, -1, -1, -1, -1,\n"
        "            *os.pipe(), False, False, -1, None, None, None, -1, None, False),\n"
        "        lambda: os.fork(),\n"
        "        lambda: subprocess.Popen([os.sys.executable, '-c', 'pass']),\n"
        "    ]\n"
        "    started = 0\n"
        "    for attempt in attempts:\n"
        "        try:\n"
        "            pid = attempt()\n"
        "        except OSError:\n"
        "            continue\n"
        "        if pid == 0:\n"
        "            os._exit(0)\n"
        "        started += 1\n"
        "    return float(started)\n"
    )
    assert isolated.run(source, {}, {"marker": str(marker)}) == 0.0
    assert not marker.exists()


def test_no_file_outside_the_temp_dir_through_dir_fd_sqlite_or_mkfifo(isolated, tmp_path):
    source = TAMPER + (
        "import os, sqlite3\n"
        "def grade(s, i):\n"
        "    target = i['target']\n"
        "    attempts = [\n"
        "        lambda: os.open('via-dir-fd', os.O_WRONLY | os.O_CREAT,\n"
        "                        dir_fd=os.open(target, os.O_RDONLY)),\n"
        "        lambda: sqlite3.connect(os.path.join(target, 'db.sqlite')).execute(\n"
        "            'create table t (x)'),\n"
        "        lambda: os.mkfifo(os.path.join(target, 'fifo')),\n"
        "    ]\n"
        "    written = 0\n"
        "    for attempt in attempts:\n"
        "        try:\n"
        "            attempt()\n"
        "            written += 1\n"
        "        except Exception:\n"
        "            pass\n"
        "    return float(written)\n"
    )
    assert isolated.run(source, {}, {"target": str(tmp_path)}) == 0.0
    assert list(tmp_path.iterdir()) == []


FORGE = (
    "import os\n"
    "def forge(line):\n"
    "    for fd in range(3, 64):\n"
    "        try:\n"
    "            os.write(fd, line)\n"
    "        except OSError:\n"
    "            pass\n"
)
"""Grader code that writes a line of its choosing on whatever descriptor is the result pipe."""


def test_a_forged_pid_kills_nothing(sandbox):
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        source = FORGE + (
            "def grade(s, i):\n"
            "    forge(b'{\"pid\": %d}\\n' % i['pid'])\n"
            "    while True:\n"
            "        pass\n"
        )
        with pytest.raises(GraderFailure):
            sandbox.run(source, {}, {"pid": bystander.pid}, SandboxLimits(timeout_s=1.0))
        with pytest.raises(subprocess.TimeoutExpired):  # still alive a second later
            bystander.wait(timeout=1)
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize(
    "line",
    [
        b'{"index": 99, "kind": "ok", "payload": 1.0}',
        b'{"index": -1, "kind": "ok", "payload": 1.0}',
        b'{"index": "0", "kind": "ok", "payload": 1.0}',
        b'{"index": 0, "kind": "ok", "payload": "1.0"}',
        b'{"index": 0, "kind": "ok", "payload": [1]}',
        b'{"index": 0, "kind": "ok", "payload": Infinity}',
        b'{"index": 0, "kind": "nope", "payload": 1}',
        b'{"index": 0, "kind": "error", "payload": {"a": 1}}',
        b"[" * 60_000,
        b"\xff\xfe not json",
    ],
)
def test_a_bad_result_line_is_a_zero_score_with_the_flag(line):
    source = FORGE + f"def grade(s, i):\n    forge({line!r} + b'\\n')\n    os._exit(0)\n"
    result = run_grader(_python(source), "x", {}, limits=FAST)
    assert result.reward == 0.0
    assert result.metadata.errors.python_grader_runtime_error


def test_a_forged_ok_cannot_hide_a_violation(sandbox):
    source = FORGE + (
        "import socket\n"
        "def grade(s, i):\n"
        '    forge(b\'{"index": 0, "kind": "ok", "payload": 1.0}\\n\')\n'
        "    socket.socket()\n"
        "    return 1.0\n"
    )
    results = sandbox.run_many(source, [({}, {}), ({}, {})])
    assert all(isinstance(r, GraderFailure) and "sandbox: socket" in r.details for r in results)


def test_a_line_without_newline_cannot_grow_the_callers_buffer(sandbox):
    source = FORGE + "def grade(s, i):\n    forge(b'x' * 20_000_000)\n    return 1.0\n"
    tracemalloc.start()
    try:
        with pytest.raises(GraderFailure, match=f"over {MAX_LINE_BYTES} bytes"):
            sandbox.run(source, {}, {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * MAX_LINE_BYTES


def _descendants(pid: int) -> set[int]:
    """Every process (zombies too) below ``pid``, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as file:
                    stat = file.read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_no_child_outlives_its_call(sandbox):
    sandbox.run("def grade(s, i):\n    return 1.0", {}, {})  # the fork server is up
    before = _descendants(os.getpid())
    graders = [
        "def grade(s, i):\n    while True:\n        pass",
        "import socket\ndef grade(s, i):\n    socket.socket()",
        "def grade(s, i):\n    return 1.0",
    ]
    for source in graders:
        with contextlib.suppress(GraderFailure):
            sandbox.run(source, {}, {}, SandboxLimits(timeout_s=1.0))
        assert _descendants(os.getpid()) == before, source


def test_sqlite_works_in_memory_and_in_the_temp_dir(sandbox):
    source = (
        "import sqlite3\n"
        "def grade(s, i):\n"
        "    total = 0\n"
        "    for name in (':memory:', 'scratch.sqlite'):\n"
        "        db = sqlite3.connect(name)\n"
        "        db.execute('create table t (x)')\n"
        "        db.execute('insert into t values (2)')\n"
        "        total += db.execute('select sum(x) from t').fetchone()[0]\n"
        "    return float(total)\n"
    )
    assert sandbox.run(source, {}, {}) == 4.0


def test_an_interpreter_under_tmp_moves_the_private_tmp(monkeypatch):
    # A CI clone (and its venv) may live under /tmp: each call's tmpfs must not hide it.
    from rftkit.graders import isolation

    venv = "/tmp/ci-clone/.venv"
    monkeypatch.setattr(isolation, "_read_only_paths", lambda: [venv])
    args = isolation.bwrap_command(["python"], None)
    assert args[args.index("--dir") + 1] == "/scratch"
    assert args[args.index(venv) - 1] == "--ro-bind"
    assert isolation.zygote_command(3)[-2:] == ["--private-tmp", "/scratch"]
    monkeypatch.setattr(isolation, "_read_only_paths", lambda: ["/opt/venv"])
    assert isolation.zygote_command(3)[-2:] == ["--private-tmp", "/tmp"]
