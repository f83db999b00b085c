"""A sentence of the course's prose about its own data, checked in the cell beside it.

The notebooks' markdown quotes figures and directions ("validation reward rises from 0.31 to
0.56"). Each such sentence is backed by a ``claim(...)`` in a code cell next to it: the statement
is printed with its figures filled in from the data, and its condition is checked. Under nbval a
re-executed notebook whose data no longer say it fails twice over: the claim raises, and the
printed line no longer matches the committed one. ``tests/test_notebook_claims.py`` checks the
other direction: every figure the prose quotes is printed by some claim in that notebook.
"""

from __future__ import annotations

from typing import Any

from rftkit.errors import RFTKitError

MARK = "✓ "  # how a checked claim's line starts, which is what the prose test looks for


class ClaimFailed(RFTKitError, AssertionError):
    """The prose says something about the data that the data no longer show."""


def claim(statement: str, holds: bool = True, /, **figures: Any) -> str:
    """Check ``holds`` and print ``statement`` with ``figures`` formatted into it.

    ``claim("accuracy rises from {before:.2f} to {after:.2f}", after > before,
    before=0.438, after=0.475)`` prints ``✓ accuracy rises from 0.44 to 0.48``. The figures are
    formatted by the statement itself, so the printed line shows them exactly as the prose
    quotes them. Returns the printed text (without the mark).
    """
    text = statement.format(**figures)
    if not bool(holds):
        raise ClaimFailed(f"the prose says {text!r}; the data no longer show it")
    print(f"{MARK}{text}")
    return text
