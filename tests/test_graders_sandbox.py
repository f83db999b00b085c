"""Python graders run in a limited child: each escape attempt is stopped, reported, survived."""

import os
import subprocess
import sys

import pytest

from rftkit.graders import SandboxLimits, run_grader
from rftkit.graders.result import GraderFailure
from rftkit.graders.sandbox import PythonSandbox

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
        "def grade(s, i):\n    open('/tmp/rftkit-sandbox-escape.txt', 'w').write('x')\n"
        "    return 1.0",
        "outside the grader's temp dir",
    ),
    "delete outside temp": (
        "import os\ndef grade(s, i):\n    os.remove('/tmp/nothing-here')\n    return 1.0",
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
    with pytest.raises(GraderFailure) as info:
        sandbox.run(source, {}, {})
    assert info.value.flag == "python_grader_runtime_error"
    assert reason in info.value.details
    assert sandbox.run("def grade(s, i):\n    return 0.5", {}, {}) == 0.5
    assert not os.path.exists("/tmp/rftkit-sandbox-escape.txt")


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
            "    return float(b'sk-test' in open('/proc/self/environ', 'rb').read())"
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
        "import sys\ndef grade(s, i):\n"
        "    print('noise')\n    sys.stderr.write('err')\n    return 1"
    )
    assert sandbox.run(source, {}, {}) == 1.0
    captured = capfd.readouterr()
    assert "noise" not in captured.out and "err" not in captured.err


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
