"""Write the solved copies of the course notebooks into ``notebooks/solutions/`` and execute them.

A course notebook ships its exercise unsolved: a stub cell, then a check cell that assigns
``solved = check_…(…)`` and prints "not yet" until the answer is right. Its solved copy is the same
notebook with the stub cells replaced by the solutions in ``SOLUTIONS``, plus three cells of its
own: a note on top, a first code cell that moves into a scratch copy of ``notebooks/data`` (so a
copy never rewrites the course's files, even when it runs beside its notebook), and
``assert solved`` after the check. The copies run under nbval like the course, which proves every
check passes on a right answer; ``tests/test_exercises.py`` proves each fails on wrong ones and
that the committed copies are exactly what this script makes, so the two never drift.

Run from the repository root after editing a course notebook or a solution:

    python scripts/make_solutions.py                        # every notebook, executed
    python scripts/make_solutions.py 06_result_analysis.ipynb
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOLUTIONS_DIR = NOTEBOOKS / "solutions"

SOLUTIONS: dict[str, dict[str, str]] = {
    # notebook -> {id of the stub cell: its solution}
    "00_welcome.ipynb": {
        "ex00-answer": 'restated_tasks = int(tasks["uses_restatement"].sum())',
        "ex00b-answer": '''\
spread = reward.change_se * reward.items**0.5  # the per-item changes' SD: SE × sqrt(items)
items_for_005 = (2 * spread / 0.05) ** 2  # two SEs of spread / sqrt(items) must be 0.05''',
    },
    "01_data_curation.ipynb": {
        "af084ede": '''\
def repair(line):
    fixed = copy.deepcopy(line)
    for message in fixed["messages"]:
        if message["role"] == "system":
            message["role"] = "developer"
    while fixed["messages"][-1]["role"] not in ("user", "developer"):
        fixed["messages"].pop()  # an answer in the prompt would give the task away
    fixed["tools"] = course_tool_specs()  # tool specs come from the service, never by hand
    return fixed''',
        "ex01b-answer": '''\
# same evidence and answer finds one; the other is reworded (similarity under 90) and has no
# evidence, so lower the threshold and read each pair: same company, figure, quarter and answer
found = find_leakage(train, suspects, threshold=60)  # two pairs, each the same fact asked again
leaks = set(found["valid_id"])''',
    },
    "02_tool_hosting.ipynb": {
        "96422fe6": '''\
def percent_change(old: float, new: float) -> str:
    """Percentage change from old to new, rounded to one decimal.

    Args:
        old: The earlier value, e.g. 4043.9.
        new: The later value, e.g. 4134.9.
    """
    return str(round((new - old) * 100 / old, 1))''',
        "ex02b-answer": '''\
# a call is lost when all four attempts fail (p**4); a rollout is kept when all five calls are:
# (1 - p**4) ** 5 >= 0.99
error_rate = (1 - 0.99 ** (1 / 5)) ** (1 / 4)''',
    },
    "03_grader_design.ipynb": {
        "171eab6c": 'my_grader = {**naive_grader(), "operation": "eq"}',
        "ex03s-answer": '''\
import re


def supported(calls, item):
    read = {arguments.get("path") for tool, arguments in calls if tool == "read_file"}
    searched = " ".join(a.get("query", "") for tool, a in calls if tool == "search").lower()
    for path in item["evidence"]:
        company, quarter = path.split("/")[-2], path.split("/")[-1].removesuffix(".md").lower()
        if path not in read and not (company in searched and quarter in searched):
            return False  # a figure the answer needs was never looked at
    sums = [a.get("expression", "") for tool, a in calls if tool == "calculator"]
    if item["task_type"] == "comparison" and sums:
        figures = [float(x) for x in re.findall(r"-?\\d+(?:\\.\\d+)?", sums[-1])]
        winning = float(item["reference_value"])
        if winning in figures and max(figures) > winning:
            return False  # its own sum says the rival is higher
    return True''',
    },
    "04_baseline_and_triage.ipynb": {
        "ex04-answer": '''\
def bucket(rewards):
    if len(rewards) < 2:
        return "unscored"
    if max(rewards) <= 0:
        return "always_0"
    if min(rewards) >= 1:
        return "always_1"
    if max(rewards) - min(rewards) < 1e-9:  # equal up to float rounding
        return "constant"
    return "learnable"''',
        "ex04b-answer": '''\
def keep(rows):
    scored = rows.dropna(subset=["reward"])  # a discarded rollout says nothing about answers
    return len(scored) >= 2 and scored["correct"].astype(bool).nunique() > 1''',
    },
    "06_result_analysis.ipynb": {
        "8e2d53c3": '''\
def no_tool_correct(frame):
    """Share of scored rollouts in `frame` that answered correctly without any tool call."""
    scored = frame[frame["reward"].notna()]
    return float((scored["correct"].astype(bool) & (scored["tool_calls"] == 0)).mean())''',
        "ex06pick": '''\
def choose(table):
    """The checkpoint to evaluate on held-out items, or "base"."""
    earned = table[table["gain"] > 2 * table["gain SE"]]  # beyond its own noise
    return "base" if earned.empty else earned["reward"].idxmax()  # then best on validation''',
    },
}

NOTE = """\
**Solved copy** of [`../{name}`](../{name}), written by `scripts/make_solutions.py`: the exercise's
stub cells hold a solution and the check must pass. Do not edit it by hand: edit the course
notebook or the solution in the script, then run the script."""

SCRATCH = """\
# Solved copies run in a scratch copy of notebooks/data, so they never rewrite the course's files.
import os
import shutil
import tempfile
from pathlib import Path

_course_data = Path("../data").resolve()
os.chdir(tempfile.mkdtemp(prefix="rftkit-solution-"))
shutil.copytree(_course_data, "data")"""

ASSERT = 'assert solved, "the solution no longer passes its check"'


def _cell(kind: str, source: str, cell_id: str) -> nbformat.NotebookNode:
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source)
    cell["id"] = cell_id
    return cell


def solved_copy(name: str) -> nbformat.NotebookNode:
    """The solved copy of ``name``, unexecuted: sources only, outputs cleared."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    solutions = dict(SOLUTIONS[name])
    cells = [_cell("markdown", NOTE.format(name=name), "solution-note"),
             _cell("code", SCRATCH, "solution-scratch")]
    checks = 0
    for cell in notebook.cells:
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if cell.get("id") in solutions:
            cell.source = solutions.pop(cell["id"])
        cells.append(cell)
        if cell.cell_type == "code" and re.search(r"^solved = ", cell.source, re.MULTILINE):
            checks += 1
            cells.append(_cell("code", ASSERT, f"solution-assert-{checks}"))
    if solutions:
        raise ValueError(f"{name}: no cell with id {sorted(solutions)} (stub cells moved?)")
    if not checks:
        raise ValueError(f"{name}: no check cell (a code cell with a line `solved = …`)")
    notebook.cells = cells
    return notebook


def write_solution(name: str, *, execute: bool = True) -> Path:
    """Write (and by default execute, in ``notebooks/solutions/``) the solved copy of ``name``."""
    notebook = solved_copy(name)
    SOLUTIONS_DIR.mkdir(exist_ok=True)
    if execute:
        client = NotebookClient(
            notebook,
            timeout=1800,
            kernel_name="python3",
            resources={"metadata": {"path": str(SOLUTIONS_DIR)}},
        )
        client.execute()
    path = SOLUTIONS_DIR / name
    nbformat.write(notebook, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=sorted(SOLUTIONS), help="file names")
    parser.add_argument("--no-execute", action="store_true", help="write sources only")
    args = parser.parse_args()
    for name in args.notebooks:
        if name not in SOLUTIONS:
            parser.error(f"no solutions for {name!r}; known: {', '.join(sorted(SOLUTIONS))}")
        print("wrote", write_solution(name, execute=not args.no_execute))


if __name__ == "__main__":
    main()
