"""Old import paths of modules that moved, kept working for one release.

A module at an old path calls :func:`alias`: importing it warns with a ``DeprecationWarning``
naming the new path, and yields the new module itself (``sys.modules`` points the old name at
it), so every object, and every monkeypatch, is the same under both names.
"""

from __future__ import annotations

import importlib
import sys
import warnings


def alias(old: str, new: str) -> None:
    """Make module ``old`` (being imported) the module ``new``, warning that ``old`` goes."""
    warnings.warn(
        f"{old} moved to {new}; import it from there ({old} goes in the next release)",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = importlib.import_module(new)
