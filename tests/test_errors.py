"""One error tree and one exit-code table for the whole kit."""

import ast
import importlib
from pathlib import Path

import pytest

from rftkit.errors import ExitCode, RFTKitError

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_BASES = {
    "Exception",
    "ValueError",
    "RuntimeError",
    "LookupError",
    "OSError",
    "ArithmeticError",
    "KeyError",
    "TypeError",
}


def _sources() -> list[Path]:
    return [
        path
        for package in ("rftkit", "tools_service")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "template" not in path.relative_to(ROOT).parts
    ]


def _exception_classes() -> list[tuple[str, str, list[str]]]:
    """(module, class, base names) of every public class that derives from a built-in exception."""
    found = []
    for path in _sources():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = [ast.unparse(base) for base in node.bases]
                if any(
                    base.split(".")[-1] in BUILTIN_BASES or "Error" in base or "Exception" in base
                    for base in bases
                ):
                    found.append((module, node.name, bases))
    return found


def test_the_scan_finds_the_kit_s_exceptions():
    names = {name for _, name, _ in _exception_classes()}
    expected = {"GraderValidationError", "HostedJobError", "MissingSecretError", "ToolInputError"}
    assert expected <= names
    assert len(names) >= 29


@pytest.mark.parametrize(
    ("module", "name"), [(module, name) for module, name, _ in _exception_classes()]
)
def test_every_exception_of_the_kit_is_an_rftkit_error(module, name):
    cls = getattr(importlib.import_module(module), name)
    if issubclass(cls, Warning) or not issubclass(cls, BaseException):
        pytest.skip(f"{name} is not an error")
    assert issubclass(cls, RFTKitError)


def test_errors_keep_their_builtin_base_so_old_except_clauses_still_catch():
    from rftkit._util.jsonsafe import JSONLimitError
    from rftkit.data.jsonl import UnreadableFileError
    from rftkit.graders import GraderValidationError
    from rftkit.outbound import OutboundRefused
    from rftkit.task import TaskSecretError

    assert issubclass(GraderValidationError, ValueError)
    assert issubclass(JSONLimitError, ValueError)
    assert issubclass(TaskSecretError, LookupError)
    assert issubclass(UnreadableFileError, OSError)
    import httpcore

    assert issubclass(OutboundRefused, httpcore.ConnectError)
    with pytest.raises(RFTKitError):
        from rftkit.graders import validate_grader

        validate_grader({"type": "no-such-grader"})


def test_the_exit_codes_are_one_table():
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "CHECKS_FAILED": 1,
        "BAD_INPUT": 2,
        "PLATFORM_ERROR": 3,
        "PAUSED": 4,
        "INTERRUPTED": 130,
    }
    from rftkit.jobs import cli as jobs_cli

    assert (jobs_cli.OK, jobs_cli.BAD_INPUT, jobs_cli.PLATFORM_ERROR) == (
        ExitCode.OK,
        ExitCode.BAD_INPUT,
        ExitCode.PLATFORM_ERROR,
    )


CLI_MODULES = [
    "rftkit/cli.py",
    "rftkit/tools_cli.py",
    "rftkit/demo.py",
    "rftkit/trl/cli.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "rftkit").glob("*/cli.py")),
]


@pytest.mark.parametrize("path", CLI_MODULES)
def test_no_command_returns_a_bare_exit_number(path):
    """Every command returns a named ExitCode, so the table is the only place numbers live."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    bare = [
        f"{path}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Return)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, int)
        and not isinstance(node.value.value, bool)
    ]
    bare += [
        f"{path}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.IfExp)
        and any(type(getattr(v, "value", None)) is int for v in (node.body, node.orelse))
    ]
    assert bare == []
