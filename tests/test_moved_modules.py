"""Modules that moved keep their old import path for one release: it warns and is the new module."""

import importlib
import sys
import warnings

import pytest

MOVED = {
    "rftkit.jsonsafe": "rftkit._util.jsonsafe",
    "rftkit.background": "rftkit._util.background",
    "rftkit.answer_types": "rftkit._util.answer_types",
    "rftkit.urlmask": "rftkit.secrets",
    "rftkit.baseline": "rftkit.evaluation.baseline",
    "rftkit.redteam": "rftkit.evaluation.redteam",
    "rftkit.agreement": "rftkit.evaluation.agreement",
    "rftkit.rubric": "rftkit.evaluation.rubric",
    "rftkit.labelling": "rftkit.evaluation.labelling",
    "rftkit.templates": "rftkit.graders.templating",
}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_the_old_path_warns_and_yields_the_same_objects(old, new, monkeypatch):
    target = importlib.import_module(new)
    monkeypatch.delitem(sys.modules, old, raising=False)  # import it afresh, as a user would
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert messages == [
        f"{old} moved to {new}; import it from there ({old} goes in the next release)"
    ]
    assert module is target
    public = [name for name in vars(target) if not name.startswith("_")]
    assert public, f"{new} defines nothing"
    for name in public:
        assert getattr(module, name) is getattr(target, name)


def test_from_import_at_the_old_path_gives_the_new_function(monkeypatch):
    from rftkit.graders.templating import render

    monkeypatch.delitem(sys.modules, "rftkit.templates", raising=False)
    with pytest.warns(DeprecationWarning, match="rftkit.graders.templating"):
        from rftkit.templates import render as old_render
    assert old_render is render


def test_no_module_of_the_repository_imports_an_old_path():
    """The shims are for users' code: the kit, its tests and notebooks use the new paths."""
    import re
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(
        ["git", "ls-files", "*.py", "*.ipynb", "*.tmpl"], cwd=root, capture_output=True, text=True
    ).stdout.split()
    pattern = re.compile(
        r"(from|import)\s+(" + "|".join(re.escape(old) for old in MOVED) + r")\b"
    )
    shims = {old.replace(".", "/") + ".py" for old in MOVED}
    offenders = [
        f"{name}: {match.group(0)}"
        for name in files
        if name not in shims and name != "tests/test_moved_modules.py"
        for match in pattern.finditer((root / name).read_text(encoding="utf-8"))
    ]
    assert offenders == []
