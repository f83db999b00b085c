"""``rftkit new``: a team's own Agent RFT project, laid out like the course and green from birth.

The template lives in ``rftkit/template/project/`` as package data. Every file there ends in
``.tmpl`` so that neither ruff nor pytest mistakes the template for rftkit's own code; the name
without ``.tmpl`` is the file's name in the project, and the folder ``package`` becomes the
project's Python package. Text is filled in with :class:`string.Template`: ``$project`` (the
project's name), ``$package`` (its import name) and ``$rftkit_version``; ``$$`` is a literal
dollar sign, and any other ``$`` is an error here rather than a silent gap in a team's code.

Example::

    created = create_project("my-agent")    # ./my-agent with the package my_agent
    print(next_steps(created))
"""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from rftkit.errors import RFTKitError

SUFFIX = ".tmpl"
PACKAGE_DIR = "package"
PROJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED = frozenset({"rftkit", "tools_service", "docs", "data", "notebooks", "tests", "test"})
"""Import names a project package must not take: rftkit's own, and the project's own folders."""


class ScaffoldError(ValueError, RFTKitError):
    """The project cannot be created as asked; the message says what to change."""


@dataclass(frozen=True)
class CreatedProject:
    """Where the project is, its import name, and the files written (relative paths, sorted)."""

    root: Path
    package: str
    files: tuple[str, ...]


def template_root() -> Traversable:
    """The template tree shipped inside the rftkit package."""
    return resources.files("rftkit") / "template" / "project"


def package_name_for(project: str) -> str:
    """The import name a project gets by default: its name, lower-case, ``-`` as ``_``."""
    return project.replace("-", "_").lower()


def check_names(project: str, package: str) -> None:
    """Raise ScaffoldError naming the problem if ``project`` or ``package`` cannot be used."""
    if not PROJECT_NAME.match(project):
        raise ScaffoldError(
            f"project name {project!r}: use letters, digits, '-' and '_', starting with a letter "
            "(e.g. 'support-agent')"
        )
    if not PACKAGE_NAME.match(package) or not package.isidentifier():
        raise ScaffoldError(
            f"package name {package!r} is not a lower-case Python identifier (letters, digits "
            "and '_', starting with a letter); pass --package NAME"
        )
    if keyword.iskeyword(package):
        raise ScaffoldError(f"package name {package!r} is a Python keyword; pass --package NAME")
    if package in sys.stdlib_module_names or package in RESERVED:
        raise ScaffoldError(
            f"package name {package!r} would shadow the module or folder {package!r}; "
            "pass --package NAME"
        )


def _rftkit_version() -> str:
    try:
        return metadata.version("rftkit")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "0.1.0"


def _templates(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """``(relative path in the template, file)`` for every template file, sorted."""
    found = []
    for child in node.iterdir():
        path = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                found += _templates(child, f"{path}/")
        elif child.name.endswith(SUFFIX):
            found.append((path, child))
    return sorted(found)


def render_template(text: str, values: dict[str, str], where: str) -> str:
    """``text`` with its placeholders filled; ScaffoldError names the file and the bad ``$``."""
    try:
        return Template(text).substitute(values)
    except (KeyError, ValueError) as exc:
        raise ScaffoldError(
            f"template {where}: bad placeholder ({exc}); write $$ for a literal '$'"
        ) from None


def create_project(directory: str | Path, *, package: str | None = None) -> CreatedProject:
    """Write a new project into ``directory`` (created; it must not exist or must be empty).

    The project's name is the directory's name; ``package`` defaults to :func:`package_name_for`
    of it. Nothing is written unless every template renders, so a failure leaves no half project.
    """
    root = Path(directory).expanduser().resolve()
    project = root.name
    package = package or package_name_for(project)
    check_names(project, package)
    if root.exists() and not root.is_dir():
        raise ScaffoldError(f"{root} is a file; choose a new directory")
    if root.exists() and any(root.iterdir()):
        raise ScaffoldError(f"{root} already exists and is not empty; choose a new directory")
    values = {"project": project, "package": package, "rftkit_version": _rftkit_version()}
    rendered: dict[str, str] = {}
    for path, source in _templates(template_root()):
        target = path.removesuffix(SUFFIX)
        if target.split("/")[0] == PACKAGE_DIR:
            target = package + target[len(PACKAGE_DIR) :]
        rendered[target] = render_template(source.read_text(encoding="utf-8"), values, path)
    if not rendered:
        raise ScaffoldError(f"no template files found in {template_root()}; reinstall rftkit")
    for target, text in rendered.items():
        out = root / target
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8", newline="\n")
    return CreatedProject(root, package, tuple(sorted(rendered)))


def next_steps(created: CreatedProject) -> str:
    """What to run next, as printed by ``rftkit new``."""
    return "\n".join(
        [
            f"created {created.root} ({len(created.files)} files, package {created.package})",
            "next:",
            f"  cd {created.root}",
            "  pip install -e . --no-deps    # rftkit must already be installed in this env",
            "  python -m pytest -q           # green from the start",
            "  then follow README.md: your docs, your tools, your tasks, your grader",
        ]
    )
