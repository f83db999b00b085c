"""The package as a user installs it: a wheel built from the checkout, installed into a fresh
virtualenv, runs ``rftkit demo --quick`` from an empty directory.

The fresh venv gets the wheel alone (``--no-deps``); the project venv's site-packages is made
visible for the dependencies through a ``.pth`` file of plain path lines. Python does not process
the ``.pth`` files of a directory added that way, so the checkout's editable install (its own
``.pth``/finder) cannot put the checkout's ``rftkit`` on the path: the test asserts the
``rftkit`` that runs is the installed one.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT_ONLY = ("notebooks/", "benchmarks/", "tests/", "docs/", "scripts/")
"""Top-level folders of the checkout that an installed package must never need."""
REACHES_OUT = re.compile(r"parents\[\d\]")


def _clean_env() -> dict[str, str]:
    """The environment without anything that would put the checkout on ``sys.path``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel`` builds it the way ``python -m build`` would (isolated, with hatchling)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(out)],
        check=True, env=_clean_env(), cwd=out,
    )  # fmt: skip
    (built,) = out.glob("rftkit-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        check=True, env=_clean_env(),
    )  # fmt: skip
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, env=_clean_env(),
    ).stdout.strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    ours |= set(site.getsitepackages())
    lines = sorted(p for p in ours if Path(p).is_dir())
    (Path(purelib) / "project_dependencies.pth").write_text("\n".join(lines) + "\n")
    return root


def test_the_wheel_holds_the_package_data_and_nothing_of_the_checkout(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    needed = [
        "rftkit/local/checkpoints/base.pt",
        "rftkit/data/o200k_base.tiktoken.gz",
        "rftkit/course/reference_labels/items.jsonl",
        "rftkit/course/reference_labels/labels.csv",
        "rftkit/template/project/pyproject.toml.tmpl",
        "rftkit/course/world/facts.py",
        "rftkit/toolserver/app.py",
        "tools_service/app.py",
    ]
    assert [n for n in needed if n not in names] == []
    assert [n for n in names if n.startswith(CHECKOUT_ONLY)] == []
    # No module walks up out of the package, except the one that reads a checkout's benchmark
    # results and says so when there is none (rftkit.local.results.load_results).
    walkers = [
        n
        for n in names
        if n.endswith(".py") and REACHES_OUT.search(zipfile.ZipFile(wheel).read(n).decode())
    ]
    assert walkers == ["rftkit/local/results.py"]


def test_the_installed_rftkit_is_the_wheels(venv, tmp_path):
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import rftkit, tools_service; "
         "print(rftkit.__file__); print(tools_service.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env=_clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for line in done.stdout.split():
        assert Path(line).resolve().is_relative_to(venv.resolve()), line
        assert not Path(line).resolve().is_relative_to(ROOT), line


def test_the_demo_runs_from_the_installed_wheel(venv, tmp_path):
    cwd = tmp_path / "empty"
    cwd.mkdir()
    done = subprocess.run(
        [str(venv / "bin" / "rftkit"), "demo", "--quick"],
        capture_output=True, text=True, cwd=cwd, env=_clean_env(), timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = cwd / "runs" / "demo"
    for name in ("traces_before.jsonl", "traces_after.jsonl", "events.jsonl", "report.html"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "task" / "task.json").is_file()
    assert "report: runs/demo/report.html" in done.stdout
