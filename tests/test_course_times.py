"""The course map in notebook 00 and each notebook's header give the same times, honest ones.

Both are read from the notebooks, so the test stays right when a header changes: the header's
``**Time:** about N minutes`` must equal the map's *reading time* for that notebook, and a header
that also says how long its cells run (``the cells run in about M minutes``) must equal the map's
*cells run in*. What *honest* means here: one reading of the notebook, estimated from its words
(prose at ``PROSE_WPM`` words a minute, code at ``CODE_WPM``, outputs glanced at), may exceed the
header by at most ``UNDER_MINUTES`` (a header may not promise less than a reading takes) and fall
short of it by at most ``OVER_MINUTES`` (running cells and the exercises take time too).

The map's *cells run in* figures were measured by executing each notebook with
``jupyter nbconvert --to notebook --execute`` on the course's two-core machine; no test repeats
that (it takes minutes).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
COURSE = sorted(NOTEBOOKS.glob("0*.ipynb"))
MAP = NOTEBOOKS / "00_welcome.ipynb"

PROSE_WPM = 200  # technical prose, read once with care
CODE_WPM = 100  # code is read at about half the speed of prose
UNDER_MINUTES = 5.0
OVER_MINUTES = 10.0

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30}  # fmt: skip
NUMBER = r"(\d+|" + "|".join(WORDS) + r")"
HEADER_TIME = re.compile(r"\*\*Time:\*\*\s*about " + NUMBER + r" minutes", re.IGNORECASE)
HEADER_RUN = re.compile(r"cells run in about " + NUMBER + r" minutes?", re.IGNORECASE)


def _number(text: str) -> int:
    return int(text) if text.isdigit() else WORDS[text.lower()]


def _header(path: Path) -> tuple[int, int | None]:
    """The notebook's stated reading time and, if it states one, its cells' running time."""
    cells = nbformat.read(path, as_version=4).cells
    headers = [c.source for c in cells if c.cell_type == "markdown" and "**Time:**" in c.source]
    text = headers[0] if headers else ""
    time = HEADER_TIME.search(text)
    assert time, f"{path.name}: no '**Time:** about N minutes' in its header"
    run = HEADER_RUN.search(text)
    return _number(time.group(1)), _number(run.group(1)) if run else None


def _course_map() -> dict[str, dict[str, str]]:
    """The map's rows, by notebook number ("00" …), as {column: cell text}."""
    cells = nbformat.read(MAP, as_version=4).cells
    source = next(c.source for c in cells if "course map" in c.source)
    lines = [line.strip().strip("|") for line in source.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.split("|")] for line in lines]
    return {row[0].split()[0]: dict(zip(rows[0], row, strict=True)) for row in rows[2:]}


def _minutes(cell: str) -> int:
    match = re.fullmatch(r"(\d+) min", cell)
    assert match, f"the map's time {cell!r} is not 'N min'"
    return int(match.group(1))


def reading_minutes(path: Path) -> float:
    """One reading: prose at PROSE_WPM words a minute, code at CODE_WPM (outputs not counted)."""
    prose = code = 0
    for cell in nbformat.read(path, as_version=4).cells:
        words = len(cell.source.split())
        if cell.cell_type == "markdown":
            prose += words
        else:
            code += words
    return prose / PROSE_WPM + code / CODE_WPM


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name)
def test_the_header_and_the_course_map_give_the_same_times(path: Path) -> None:
    row = _course_map().get(path.name[:2])
    assert row, f"{path.name} has no row in the course map of {MAP.name}"
    reading, run = _header(path)
    assert _minutes(row["reading time"]) == reading, (
        f"{path.name}: its header says about {reading} minutes, the map {row['reading time']}"
    )
    if run is not None:
        assert _minutes(row["cells run in"]) == run, (
            f"{path.name}: its header says the cells run in about {run} minutes, "
            f"the map {row['cells run in']}"
        )


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name)
def test_the_header_time_is_about_one_reading(path: Path) -> None:
    stated, _ = _header(path)
    estimate = reading_minutes(path)
    assert estimate - UNDER_MINUTES <= stated <= estimate + OVER_MINUTES, (
        f"{path.name}: the header says about {stated} minutes; one reading of its words is "
        f"about {estimate:.0f} (prose at {PROSE_WPM} words a minute, code at {CODE_WPM})"
    )


def test_the_map_has_a_row_for_every_notebook_and_no_other() -> None:
    assert sorted(_course_map()) == sorted(p.name[:2] for p in COURSE)


def test_the_header_parser_reads_words_and_digits(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "**Time:** about twenty minutes to read; the cells run in about three minutes.")])
    path = tmp_path / "09_x.ipynb"
    nbformat.write(notebook, path)
    assert _header(path) == (20, 3)
    assert reading_minutes(path) == pytest.approx(13 / PROSE_WPM)
