"""``rftkit`` imports only the command group it runs, so a command starts without torch, the openai
SDK or jsonschema unless it uses them (CPU figures: ``benchmarks/cli_start.py``)."""

import argparse
import json
import subprocess
import sys

import pytest
from commands import command_env

from rftkit.cli import COMMANDS, build_parser, chosen_command

HEAVY = ("torch", "openai", "jsonschema", "sklearn", "matplotlib.pyplot", "pandas", "uvicorn")

PROBE = """
import json, sys
from rftkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def imported_by(*argv: str) -> set[str]:
    """The heavy modules a fresh interpreter holds after running ``rftkit ARGV``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (("--help",), set()),
        (("jobs", "--help"), set()),
        (("jobs", "status", "--help"), set()),
        (("data", "validate", "--help"), set()),
        (("endpoints", "--help"), {"pandas"}),
        # rftkit.graders exports lazily (its engine: the openai SDK's grader types, pandas).
        (("graders", "--help"), set()),
    ],
)
def test_a_command_imports_only_what_it_uses(argv, allowed):
    assert imported_by(*argv) <= allowed


def test_the_help_listing_says_what_each_group_registers():
    """The one-line helps in COMMANDS are what each group's own ``register`` says."""
    listed = {a.dest: a.help for a in _choices(build_parser(only=""))}
    registered = {a.dest: a.help for a in _choices(build_parser(only=None))}
    assert listed == registered and set(listed) == set(COMMANDS)


def _choices(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub._choices_actions


@pytest.mark.parametrize(
    ("argv", "group"),
    [(["jobs", "status", "x"], "jobs"), (["--help"], None), (["nope"], None), ([], None)],
)
def test_the_group_is_the_first_word_that_names_one(argv, group):
    assert chosen_command(argv) == group


@pytest.mark.parametrize("package", ["rftkit.data", "rftkit.graders", "rftkit.jobs"])
def test_a_lazy_export_is_the_object_itself_after_every_submodule_is_imported(package):
    """A submodule bound under an exported name (``rftkit.data.triage``) must not hide it."""
    import importlib
    import pkgutil
    import types

    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        importlib.import_module(f"{package}.{info.name}")
    for name in module.__all__:
        assert not isinstance(getattr(module, name), types.ModuleType), f"{package}.{name}"
