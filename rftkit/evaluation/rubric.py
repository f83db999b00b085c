"""The label scale of a rubric written for people, read from the rubric itself.

Labellers work from a written rubric; the κ gate must compare the grader with them on the same
scale. Reading the scale from the rubric keeps the two from drifting apart: a rubric that adds a
0.75 level changes the labels the gate accepts and the bins the grader's rewards fall into.

The rubric is Markdown: under a heading that contains "Rubric", one bullet per level that starts
with the level in bold, e.g. ``- **0.5** — nearly right: ...``.

Example::

    scale = rubric_scale(Path("data/LABELS.md").read_text())   # (0.0, 0.5, 1.0)
    launch_gate(human, bin_scores(rewards, scale).tolist(), labels=scale)
"""

from __future__ import annotations

import re

HEADING = re.compile(r"^#+\s.*\brubric\b", re.IGNORECASE)
LEVEL = re.compile(r"^\s*[-*]\s+\*\*\s*([-+]?\d+(?:\.\d+)?)\s*\*\*")


def rubric_scale(markdown: str, *, where: str = "the rubric") -> tuple[float, ...]:
    """The levels of the rubric section in ``markdown``, ascending; ValueError naming ``where``
    and what to write when there is no rubric section, fewer than two levels, or a repeat."""
    levels: list[float] = []
    inside = False
    for line in markdown.splitlines():
        if line.startswith("#"):
            inside = bool(HEADING.match(line))
            continue
        match = LEVEL.match(line) if inside else None
        if match:
            levels.append(float(match.group(1)))
    if len(levels) < 2:
        raise ValueError(
            f"{where}: found {len(levels)} level(s); under a '## Rubric' heading write one bullet "
            "per level starting with it in bold, e.g. '- **0.5** — nearly right'"
        )
    repeated = sorted({level for level in levels if levels.count(level) > 1})
    if repeated:
        raise ValueError(f"{where}: level(s) {repeated} are described more than once")
    return tuple(sorted(levels))
