"""The κ label scale is read from the project's written rubric."""

import pytest

from rftkit.evaluation.rubric import rubric_scale

RUBRIC = """# Labels

Text with **1** in bold that is not a level.

## Rubric (version 2)

- **1** — right.
- **0.75** — right status, date a day off.
* **0** — wrong.
- **0.5** — one of the two right.

## Notes

- **2** — not part of the rubric.
"""


def test_levels_come_from_the_rubric_section_in_order():
    assert rubric_scale(RUBRIC) == (0.0, 0.5, 0.75, 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Labels\n- **1** — right\n", "LABELS.md: found 0 level"),
        ("## Rubric\n- **1** — right\n", "found 1 level"),
        ("## Rubric\n- **1** — a\n- **0** — b\n- **1** — c\n", r"level\(s\) \[1.0\] are described"),
    ],
)
def test_a_rubric_without_a_usable_scale_is_refused_naming_the_file(text, message):
    with pytest.raises(ValueError, match=message):
        rubric_scale(text, where="LABELS.md")
