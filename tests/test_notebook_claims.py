"""Every figure the course's prose quotes is printed by a ``claim(...)`` in the same notebook.

How a figure is detected, and where that stops: in each markdown cell (outside inline code, code
blocks, links, HTML comments and references to a page's numbered sections) a *figure* is a
decimal number (``0.42``, ``-135.0``) or a percentage (``45%``, ``45 %``). Each must appear in a
line printed by :func:`rftkit.course.claims.claim` somewhere in the notebook's committed outputs,
which nbval proves are what the code makes now; claims raise when their condition fails. Whole
numbers without a ``%`` are not detected (step numbers, cell numbers, sizes and counts are too
often not claims about data); a *direction* ("rises", "falls", "fewer") is detected by the verbs
in ``DIRECTIONS`` and must have a claim in a code cell next to its markdown cell. What the prose
quotes that is not a claim about the data (a design constant, a price, a definition) is listed in
``NOT_DATA`` with the reason, so every exemption is visible here.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from rftkit.course.claims import MARK

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
COURSE = sorted(NOTEBOOKS.glob("0*.ipynb"))
SOLVED = sorted((NOTEBOOKS / "solutions").glob("0*.ipynb"))

FIGURE = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.]*\w)|(?<![\w.])\d+(?:\.\d+)?\s?%")
DIRECTIONS = re.compile(
    r"\b(rises|rose|falls|fell|goes up|goes down|went up|went down|drops|dropped|"
    r"improves|improved|worsens|worsened|fewer|shorter|longer)\b",
    re.IGNORECASE,
)
STRIP = re.compile(
    r"```.*?```|`[^`]*`|<!--.*?-->|\]\([^)]*\)|https?://\S+|\$[^$]*\$|§\s?[\d.]+", re.DOTALL
)

# notebook name -> {figure or sentence fragment: why it is not a claim about the data}
NOT_DATA: dict[str, dict[str, str]] = {
    "00_welcome.ipynb": {
        "are no longer": "'no longer yours alone': who owns the parts in production, not a length",
        "is worth knowing about": "the exercise's target change, a setting of the exercise",
        "spreads as much as it": "the exercise's target change, a setting of the exercise",
        "within 10%": "the exercise check's tolerance",
    },
    "01_data_curation.ipynb": {
        "far fewer examples": "cited source",
        "collected in": "cited source (section numbers of the course's notes on the hosted API)",
    },
    "02_tool_hosting.ipynb": {
        "takes 1.5 s": "the delay the cell injects, a setting of the fault",
        "can afford to lose": "the exercise's discard budget, a setting of the exercise",
    },
    "05_job_launch.ipynb": {
        "$1.70 in Microsoft's cost-guide example": "cited source (Microsoft's Azure cost guide)",
        "learnability triage drops such tasks": "what the trainer's triage does, by definition",
        "0.1 a call": "flat_cost_grader's price per call, a design constant (FLAT_COST)",
        "every call costs 0.1": "flat_cost_grader's price per call, a design constant (FLAT_COST)",
        "for four behaviours a model learns": "cited source (the Agent RFT talk)",
        "rubric's 0.4 for it": "notebook 03's lucky-guess limit (a design constant)",
        "within the 0.4 notebook 03": "notebook 03's lucky-guess limit (a design constant)",
    },
    "06_result_analysis.ipynb": {
        "about 50% fewer tool calls and reasoning tokens": "cited source (the Agent RFT talk)",
        "Fewer turns usually means fewer completion tokens": "what a turn costs, in general",
        "think longer as well as shorter": "a caution about RL in general, not this run",
        "and the points are coloured by whether reward rose": "the plot's classes, by definition",
        "rollouts above 0.5 are shown": "the examples' floor (a design constant)",
        "default threshold of 0.2": "the red team's threshold, a design constant",
        "for a change of +0.05": "notebook 00's exercise target (a setting)",
    },
    "03_grader_design.ipynb": {
        "above the threshold (0.2)": "the red team's threshold, a design constant",
        "0.5 within 1 %, 0.25 for the right digits": "the draft's credits (its code)",
        "labelled 0 / 0.5 / 1": "the rubric's label scale (a definition)",
        "cuts at\n0.25 and 0.75": "bin_scores' cut points (a definition)",
        "Weighted kappa counts": "what weighted kappa is (a definition)",
        "Train against a grader only if": "the launch gate's rule (a design constant)",
        "**The draft does not pass the gate**": "0.6: the gate's threshold",
        "is exactly 2975.4 USD millions": "examples of reference items (fixed data shown above)",
        "The draft ignores\n  scale words": "examples of reference items and the draft's credits",
        "precision earns 0.5 (no": "the rubric's partial credit (a definition)",
        "the efficiency weight drops to 0.2": "a design constant of course_grader()",
        "a right answer earns between 0.8 and 1": "follows from the formula 0.8 + 0.2 × tools",
        "lower bound below the gate's 0.6": "the gate's threshold (a design constant)",
    },
    "04_baseline_and_triage.ipynb": {
        "right 75 % of the time": "the scripted policy's GUESS_RATE (design constants)",
        "made without any read or search only 0.4": "the course grader's design (03 computes it)",
        "(fewer than two)": "the exercise's definition of 'unscored', not a direction in data",
    },
}


def _prose(cell: nbformat.NotebookNode) -> str:
    return STRIP.sub(" ", cell.source).replace("−", "-")


def _figures(text: str) -> list[str]:
    return [re.sub(r"\s+%", "%", match.group(0)) for match in FIGURE.finditer(text)]


def _claim_lines(cell: nbformat.NotebookNode) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        text = "".join(output.get("text", "")) + "".join(
            output.get("data", {}).get("text/plain", "")
        )
        lines += [line.replace("−", "-") for line in text.splitlines() if line.startswith(MARK)]
    return lines


def _quoted(figure: str, lines: list[str]) -> bool:
    body = re.escape(figure).replace("%", r"\s?%")
    pattern = re.compile(r"(?<![\w.])" + body + r"(?!\w|\.\d)")
    return any(pattern.search(line) for line in lines)


def _exempt(name: str, text: str) -> bool:
    return any(fragment in text for fragment in NOT_DATA.get(name, {}))


@pytest.mark.parametrize("path", COURSE + SOLVED, ids=lambda p: str(p.relative_to(NOTEBOOKS)))
def test_every_quoted_figure_is_claimed(path: Path) -> None:
    cells = nbformat.read(path, as_version=4).cells
    claims = [line for cell in cells if cell.cell_type == "code" for line in _claim_lines(cell)]
    unclaimed = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        prose = _prose(cell)
        for sentence in re.split(r"(?<=[.!?:])\s+(?=[A-Z*(\[])|\n\s*\n", prose):
            if _exempt(path.name, sentence):
                continue
            missing = [f for f in _figures(sentence) if not _quoted(f, claims)]
            if missing:
                unclaimed.append(f"cell {index} ({cell.get('id')}): {missing} in {sentence!r}")
                continue
            if DIRECTIONS.search(sentence):
                near = cells[max(index - 1, 0) : index + 3]
                if not any(c.cell_type == "code" and _claim_lines(c) for c in near):
                    unclaimed.append(f"cell {index} ({cell.get('id')}): direction {sentence!r}")
    assert not unclaimed, "prose with no claim beside it:\n" + "\n".join(unclaimed)


def test_claim_prints_what_it_checked_and_refuses_what_the_data_do_not_show(capsys) -> None:
    from rftkit.course.claims import ClaimFailed, claim

    claim("accuracy rises from {a:.2f} to {b:.2f}", 0.475 > 0.438, a=0.438, b=0.475)
    assert capsys.readouterr().out == f"{MARK}accuracy rises from 0.44 to 0.47\n"
    with pytest.raises(ClaimFailed, match="no longer show it"):
        claim("accuracy rises from {a:.2f} to {b:.2f}", 0.40 > 0.44, a=0.44, b=0.40)


def test_the_detector_finds_an_unclaimed_figure_and_a_bare_direction() -> None:
    text = "Reward rises. Accuracy 0.45 → 45 % at `lr=0.5` (docs/hosted-api.md §4.3)."
    prose = _prose(nbformat.v4.new_markdown_cell(text))
    assert _figures(prose) == ["0.45", "45%"]  # not the setting in code, not the section
    assert DIRECTIONS.search(prose)
    assert _quoted("0.45", [f"{MARK}accuracy 0.45"]) and not _quoted("0.45", [f"{MARK}0.455"])
