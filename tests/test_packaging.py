"""pyproject.toml is the one dependency list; environment.yml and .ci/run only point at it."""

import pathlib
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_environment_yml_installs_the_package_with_the_makefile_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    makefile = (ROOT / "Makefile").read_text()
    assert pip_section == ['-e ".[dev]"']
    assert "-e '.[dev]'" in makefile
    assert "pip" in env["dependencies"]


def test_environment_yml_python_satisfies_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    major, minor = (int(x) for x in python.removeprefix("python=").split(".")[:2])
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    f_major, f_minor = (int(x) for x in floor.removeprefix(">=").split("."))
    assert (major, minor) >= (f_major, f_minor)


def test_environment_yml_repeats_no_dependency():
    """Every conda entry besides python and pip would be a second dependency list."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_names = {d.split("=")[0] for d in env["dependencies"] if isinstance(d, str)}
    assert conda_names == {"python", "pip"}


def test_extras_named_in_environment_yml_exist():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "dev" in project["optional-dependencies"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "make test"
    assert "make test" in readme and "make demo" in readme
