"""The Modal image's requirement set resolves: ``uv pip compile`` against the package index.

A conflict (like ``vllm==0.33.0`` with ``transformers==5.24.0``) fails here, not in a user's first
``modal run``. The test skips only when the package index cannot be reached; uv's cache keeps a
second run to about a second.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import uv

from rftkit.trl.image import (
    PLATFORM,
    PYTHON_VERSION,
    TRAINING_STACK,
    image_requirements,
    pinned_versions,
)

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = re.compile(
    r"(dns error|failed to lookup address|connection refused|network is unreachable|"
    r"error sending request|timed out|tcp connect error|could not connect)",
    re.IGNORECASE,
)


def compile_requirements(requirements: list[str], folder: Path) -> subprocess.CompletedProcess:
    source = folder / "image.in"
    source.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return subprocess.run(
        [
            uv.find_uv_bin(),
            "pip",
            "compile",
            str(source),
            "--python-version",
            PYTHON_VERSION,
            "--python-platform",
            PLATFORM,
            "--no-header",
            "--no-annotate",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def resolved(result: subprocess.CompletedProcess) -> dict[str, str]:
    if result.returncode != 0 and UNREACHABLE.search(result.stderr):
        pytest.skip(f"the package index cannot be reached: {result.stderr.strip()[-300:]}")
    return {
        name.lower(): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", result.stdout, re.MULTILINE)
    }


def test_the_image_requirements_resolve_to_the_pins(tmp_path):
    result = compile_requirements(image_requirements(), tmp_path)
    versions = resolved(result)
    assert result.returncode == 0, f"the Modal image cannot be built:\n{result.stderr}"
    for name, version in pinned_versions().items():
        assert versions[name] == version, name
    assert "torch" in versions and "fastapi" in versions  # rftkit's own requirements too


def test_a_conflicting_set_fails_the_resolver(tmp_path):
    """The old pins: vllm 0.33.0 needs torch 2.14.0 and transformers<5.21; TRL 1.16 allows
    vllm<=0.31.0. The check must be able to fail."""
    broken = [r for r in TRAINING_STACK if not r.startswith("vllm")] + ["vllm==0.33.0"]
    result = compile_requirements(broken, tmp_path)
    resolved(result)
    assert result.returncode != 0
    assert "No solution found" in result.stderr and "vllm==0.33.0" in result.stderr


def test_the_trl_extra_pins_what_the_image_pins():
    """The CPU wiring test runs the ``trl`` extra: the same versions as the GPU image."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pinned = {
        name: version
        for name, _, version in (r.partition("==") for r in extras["trl"] if "==" in r)
    }
    image = pinned_versions()
    assert pinned == {n: v for n, v in image.items() if n not in ("vllm", "torch")}
    assert extras["train"] == [f"torch=={image['torch']}"]
    assert "rftkit[trl]" in extras["dev"] and any(r.startswith("uv") for r in extras["dev"])
