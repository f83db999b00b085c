"""Run a command the README shows the way a user does: a subprocess, in a working directory of the
test's choosing, with this checkout's rftkit first and nothing of pytest's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def command_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, **(extra or {})}


def run_python(
    cwd: Path, *argv: str, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``python ARGV`` (``-m rftkit …``, ``-m rftkit.trl …``) in ``cwd``; output captured."""
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=command_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_rftkit(cwd: Path, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    """``rftkit ARGV`` as ``python -m rftkit ARGV`` in ``cwd``."""
    return run_python(cwd, "-m", "rftkit", *argv, **kwargs)
