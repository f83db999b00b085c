"""How to deploy a task's tool service: the hint a failed reachability check prints.

A team's task lives in a project made by ``rftkit new`` (its ``build/task.json``), whose own
tool service deploys with ``modal deploy -m <package>.modal_app`` or from its ``Dockerfile``;
the hint names that service, not the course's. A task outside such a project gets both ways.
"""

from __future__ import annotations

from pathlib import Path


def deploy_hint(folder: Path) -> str:
    """The commands that deploy the tool service of the task whose file is in ``folder``."""
    project = project_of(folder)
    if project is None:
        return (
            "deploy your tool service on a public HTTPS URL (a project made by `rftkit new`: "
            "`modal deploy -m <package>.modal_app`, or its Dockerfile on Azure Container Apps or "
            "any container host; the course's tools: `modal deploy -m tools_service.modal_app`)"
        )
    root, package = project
    return (
        f"deploy the project's tool service: `modal deploy -m {package}.modal_app` (from "
        f"{root}), or its Dockerfile on Azure Container Apps or any container host (README.md, "
        "'Deploy the tools')"
    )


def project_of(folder: Path) -> tuple[Path, str] | None:
    """(project folder, package) of the ``rftkit new`` project holding ``folder``: the nearest
    folder with a ``pyproject.toml`` and one package with both ``service.py`` and
    ``modal_app.py``; None if there is none."""
    folder = Path(folder).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            packages = [
                app.parent.name
                for app in sorted(candidate.glob("*/modal_app.py"))
                if (app.parent / "service.py").is_file()
            ]
            return (candidate, packages[0]) if len(packages) == 1 else None
    return None
