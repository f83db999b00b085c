"""Package namespaces that import a submodule only when one of its names is first used.

A package ``__init__`` that imported every submodule made each ``rftkit`` command pay for all of
them (torch, scikit-learn, jsonschema's format checkers: seconds of CPU before any work). PEP 562's
module ``__getattr__`` keeps ``from rftkit.data import validate_file`` working while importing only
``rftkit.data.validate``. Ten lines, so no dependency (scientific-python's ``lazy_loader`` does the
same with stub files this kit does not need).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` resolving each name in ``exports`` (name -> the
    submodule that defines it) on first use, then caching it in the package's namespace."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    return __getattr__
