"""Old import paths of modules that moved, kept working for one release.

A module at an old path calls :func:`alias`: importing it warns with a ``DeprecationWarning``
naming the new path, and yields the new module itself (``sys.modules`` points the old name at
it), so every object, and every monkeypatch, is the same under both names.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from typing import Any


def alias(old: str, new: str) -> None:
    """Make module ``old`` (being imported) the module ``new``, warning that ``old`` goes."""
    warnings.warn(
        f"{old} moved to {new}; import it from there ({old} goes in the next release)",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = importlib.import_module(new)


def renamed(module: str, names: dict[str, tuple[Any, str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that gives each old name in ``names`` (old name -> (object, its
    new name)) with a ``DeprecationWarning``, for one release."""

    def __getattr__(name: str) -> Any:
        if name in names:
            found, new = names[name]
            warnings.warn(f"{module}.{name} is {new} now", DeprecationWarning, stacklevel=2)
            return found
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
