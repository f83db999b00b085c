"""The course stands apart from the kit: the kit's library never imports it, the engine's
packages import neither the course nor the jobs that drive them, and what the kit needs of the
course (tool names, a dataset line's shape) is passed in."""

from __future__ import annotations

import pytest

from rftkit.course.tools import COURSE_TOOLS
from rftkit.data import build_dataset
from rftkit.local.checkpoint import BASE_TOOLS
from tools_service.tools import toolbox

COURSE = ("rftkit.course", "tools_service")
ENTRY_POINTS = {
    "rftkit.cli": "the rftkit command registers every subcommand",
    "rftkit.demo": "rftkit demo runs the course end to end",
    "rftkit.tools_cli": "rftkit tools serves the course's world",
    "rftkit.data.cli": "rftkit data build writes the course dataset without --tasks",
    "rftkit.graders.cli": "rftkit graders course prints the course grader",
    "rftkit.graders.modal_app": "the example grader deployment serves the course grader",
    "rftkit.trl.cli": "rftkit trl course-task",
    "rftkit.evaluation.redteam": "the red team's default reference set is the course's labels",
}
"""Kit modules that may import the course: commands that run it, and one default."""
SHIMS = ("rftkit.course_task", "rftkit.course_session", "rftkit.exercises", "rftkit.job_exercises",
         "rftkit.reference_labels", "rftkit.world", "rftkit.graders.course",
         "rftkit.rollouts.scripted", "rftkit.local.expert", "rftkit.local.worlds",
         "rftkit.local.evaluate", "rftkit.local.inprocess", "rftkit.local.rewards",
         "rftkit.local.cli", "rftkit.local.pretrain")  # fmt: skip
"""The deprecated re-exports at the old paths (they import the new ones by design)."""


@pytest.fixture(scope="module")
def graph():
    grimp = pytest.importorskip("grimp")
    return grimp.build_graph("rftkit", "tools_service", cache_dir=None)


def _is(module: str, packages: tuple[str, ...] | str) -> bool:
    packages = (packages,) if isinstance(packages, str) else packages
    return any(module == p or module.startswith(p + ".") for p in packages)


def _imports(graph, importer: str, imported: tuple[str, ...] | str) -> list[tuple[str, str]]:
    return sorted(
        (module, target)
        for module in graph.modules
        if _is(module, importer) and not _is(module, SHIMS)
        for target in graph.find_modules_directly_imported_by(module)
        if _is(target, imported)
    )


def test_the_kit_library_imports_nothing_of_the_course(graph):
    leaks = [
        (module, target)
        for module, target in _imports(graph, "rftkit", COURSE)
        if not _is(module, COURSE) and module not in ENTRY_POINTS
    ]
    assert leaks == []


@pytest.mark.parametrize("imported", ["rftkit.course", "rftkit.jobs"])
def test_the_local_engine_imports_neither_the_course_nor_the_jobs(graph, imported):
    assert _imports(graph, "rftkit.local", imported) == []


def test_the_tool_server_library_imports_nothing_of_the_course(graph):
    assert _imports(graph, "rftkit.toolserver", COURSE) == []


def test_the_course_tools_are_the_ones_the_base_checkpoint_knows():
    assert tuple(tool.name for tool in toolbox) == COURSE_TOOLS
    assert frozenset(COURSE_TOOLS) == BASE_TOOLS


def test_any_task_that_makes_its_own_line_goes_through_build_dataset():
    class Ticket:
        def as_line(self, *, style, instructions, tools, world_seed):
            return {"messages": [{"role": "user", "content": f"{style}/{world_seed}"}]}

    (line,) = build_dataset([Ticket()], style="compact", world_seed=7)
    assert line == {"messages": [{"role": "user", "content": "compact/7"}]}
