"""The Modal image's Python requirements: one list, which CI resolves with a real resolver.

The pins were chosen from the packages' own metadata, not guessed:

- ``trl==1.16.0`` declares ``vllm>=0.22.0,<=0.31.0`` (its ``vllm`` extra) and ``peft>=0.13.0``
  (its ``peft`` extra); asking for ``trl[vllm,peft]`` makes the resolver hold the image to them;
- ``vllm==0.30.0`` is the newest vLLM in that range that accepts ``transformers==5.24.0``
  (it needs ``transformers>=5.10.4``; 0.31.0 caps it below 5.18, 0.33.0 needs ``torch==2.14.0``
  and ``transformers<5.21``) and it pins ``torch==2.13.0``, the torch of the ``train`` extra;
- ``transformers``, ``accelerate``, ``datasets`` are the ``trl`` extra's pins, so what the CPU
  wiring test ran is what the GPU runs; ``peft==0.21.2`` is the newest at the time of pinning.

``tests/test_trl_image.py`` runs ``uv pip compile`` on :func:`image_requirements` for CPython 3.11
on ``x86_64-manylinux_2_28`` (the image is Debian bookworm, glibc 2.36), so a conflict fails CI
rather than a user's first ``modal run``.
"""

from __future__ import annotations

from importlib import metadata

TRAINING_STACK = (
    "trl[vllm,peft]==1.16.0",
    "transformers==5.24.0",
    "torch==2.13.0",
    "accelerate==1.15.0",
    "peft==0.21.2",
    "datasets==5.2.0",
    "vllm==0.30.0",
)
"""What the GPU container trains and generates with."""
SKIPPED_IN_IMAGE = ("jupyterlab", "ipywidgets", "modal", "matplotlib")
"""rftkit dependencies the GPU container never imports."""
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"


def rftkit_requirements() -> list[str]:
    """rftkit's own runtime dependencies, less those the image skips: the installed
    distribution's metadata (``pyproject.toml``'s ``dependencies`` as the wheel or the editable
    install recorded them; no extras), so an installed package needs no checkout."""
    try:
        requirements = metadata.requires("rftkit") or []
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            "rftkit's distribution metadata is missing (rftkit imported from a folder that was "
            "never installed); install it (pip install -e . or the wheel) to build the image"
        ) from None
    runtime = [r for r in requirements if "extra ==" not in r]
    return [r for r in runtime if not r.startswith(SKIPPED_IN_IMAGE)]


def image_requirements() -> list[str]:
    """Everything ``uv pip install`` gets in the image: the training stack, then rftkit's."""
    return [*TRAINING_STACK, *rftkit_requirements()]


def pinned_versions() -> dict[str, str]:
    """``{"trl": "1.16.0", ...}`` for the training stack (for the job table and the tests)."""
    pins = {}
    for requirement in TRAINING_STACK:
        name, _, version = requirement.partition("==")
        pins[name.split("[")[0]] = version
    return pins
